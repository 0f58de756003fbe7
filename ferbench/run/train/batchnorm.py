"""The family settings a trial trains with for the data at hand, for its hyperparameters: the batch-norm momentum
(see :mod:`ferbench.model.batchnorm`), for a family that has it, residual branches that start at zero, and how the
first layer scales the pixels (:mod:`ferbench.model.inputs`: no ImageNet statistics from scratch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ferbench.model.batchnorm import training_momentum
from ferbench.model.family import ModelConfig
from ferbench.spec.types import Spec


def bn_values(spec: Spec, hp: Mapping[str, Any], n_train: int) -> dict[str, Any]:
    """``{"bn_momentum": m, "zero_init_last": z, "input_scaling": s, "small_input": a}``: ``model.bn_momentum``, else
    the family's own capped for ``n_train`` images at the trial's batch size; whether each residual branch's last batch
    norm starts at gamma 0 (families that have it, trained from scratch: with ``model.weights`` the loaded gammas
    count); the pixel scaling and whether the family's small-input adaptation is on (:func:`small_input`): both as
    Keras builds the family with ImageNet's weights, else fit for the data (a weights file is taken to come from a
    model built so, a run's ``best/model.keras``). ``None`` for a custom builder."""
    from ferbench.model.inputs import trial_scaling
    from ferbench.model.registry import CUSTOM, family
    from ferbench.model.weights import IMAGENET, NONE

    arch = str(hp.get("arch") or spec.model.arch)
    if arch == CUSTOM:
        return {"bn_momentum": None, "zero_init_last": None, "input_scaling": None, "small_input": None}
    fam = family(arch)
    steps = max(int(n_train) // max(int(hp["batch_size"]), 1), 1)
    return {"bn_momentum": training_momentum(fam.bn_momentum, steps, spec.model.bn_momentum),
            "zero_init_last": fam.zero_init_last is not None and spec.model.weights in ("", NONE),
            "input_scaling": trial_scaling(fam, spec.input_shape[2], pretrained=spec.model.weights == IMAGENET),
            "small_input": small_input(spec, fam.config(spec.model.stages, **{k: hp.get(k) for k in fam.takes}))}


def small_input(spec: Spec, config: ModelConfig) -> bool:
    """Whether the trial's model is built with its family's small-input adaptation: not for ImageNet's weights (their
    network is Keras's), where the family has one and it changes the model at the spec's input size (MobileNetV3 at
    48 px: the stem's stride 1)."""
    from ferbench.model.registry import small_input_applies
    from ferbench.model.weights import IMAGENET

    return spec.model.weights != IMAGENET and small_input_applies(config, spec.input_shape)
