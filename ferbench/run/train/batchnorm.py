"""The family settings a trial trains with for the data at hand, for its hyperparameters: the batch-norm momentum
(see :mod:`ferbench.model.batchnorm`), for a family that has it, residual branches that start at zero, and how the
first layer scales the pixels (:mod:`ferbench.model.inputs`: no ImageNet statistics from scratch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ferbench.model.batchnorm import training_momentum
from ferbench.spec.types import Spec


def bn_values(spec: Spec, hp: Mapping[str, Any], n_train: int) -> dict[str, Any]:
    """``{"bn_momentum": m, "zero_init_last": z, "input_scaling": s}``: ``model.bn_momentum``, else the family's own
    capped for ``n_train`` images at the trial's batch size; whether each residual branch's last batch norm starts at
    gamma 0 (families that have it, trained from scratch: with ``model.weights`` the loaded gammas count); the pixel
    scaling (from scratch no ImageNet statistics; with ``model.weights`` what they expect). ``None`` for a custom builder."""
    from ferbench.model.inputs import trial_scaling
    from ferbench.model.registry import CUSTOM, family
    from ferbench.model.weights import NONE

    arch = str(hp.get("arch") or spec.model.arch)
    if arch == CUSTOM:
        return {"bn_momentum": None, "zero_init_last": None, "input_scaling": None}
    fam = family(arch)
    steps = max(int(n_train) // max(int(hp["batch_size"]), 1), 1)
    scratch = spec.model.weights in ("", NONE)
    return {"bn_momentum": training_momentum(fam.bn_momentum, steps, spec.model.bn_momentum),
            "zero_init_last": fam.zero_init_last is not None and scratch,
            "input_scaling": trial_scaling(fam, spec.input_shape[2], pretrained=not scratch)}
