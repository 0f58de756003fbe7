"""The batch-norm momentum of a trial, for its hyperparameters (see :mod:`ferbench.model.batchnorm`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ferbench.model.batchnorm import training_momentum
from ferbench.spec.types import Spec


def bn_values(spec: Spec, hp: Mapping[str, Any], n_train: int) -> dict[str, Any]:
    """``{"bn_momentum": m}``: ``model.bn_momentum``, else the family's own capped for ``n_train`` images at the
    trial's batch size; ``None`` for a custom builder (its batch norms are its own)."""
    from ferbench.model.registry import CUSTOM, family

    arch = str(hp.get("arch") or spec.model.arch)
    if arch == CUSTOM:
        return {"bn_momentum": None}
    steps = max(int(n_train) // max(int(hp["batch_size"]), 1), 1)
    return {"bn_momentum": training_momentum(family(arch).bn_momentum, steps, spec.model.bn_momentum)}
