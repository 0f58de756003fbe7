"""The batch-norm settings a trial trains with, for its hyperparameters: the momentum (see
:mod:`ferbench.model.batchnorm`) and, for a family that has it, residual branches that start at zero."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ferbench.model.batchnorm import training_momentum
from ferbench.spec.types import Spec


def bn_values(spec: Spec, hp: Mapping[str, Any], n_train: int) -> dict[str, Any]:
    """``{"bn_momentum": m, "zero_init_last": z}``: ``model.bn_momentum``, else the family's own capped for ``n_train``
    images at the trial's batch size; whether each residual branch's last batch norm starts at gamma 0 (families that
    have it, trained from scratch: with ``model.weights`` the loaded gammas count). ``None`` for a custom builder."""
    from ferbench.model.registry import CUSTOM, family
    from ferbench.model.weights import NONE

    arch = str(hp.get("arch") or spec.model.arch)
    if arch == CUSTOM:
        return {"bn_momentum": None, "zero_init_last": None}
    fam = family(arch)
    steps = max(int(n_train) // max(int(hp["batch_size"]), 1), 1)
    return {"bn_momentum": training_momentum(fam.bn_momentum, steps, spec.model.bn_momentum),
            "zero_init_last": fam.zero_init_last is not None and spec.model.weights in ("", NONE)}
