"""A trial's loss and accuracy metric, from its labels (hard, vectors, FER+ targets) and its recipes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ferbench._lazy import require

if TYPE_CHECKING:
    from ferbench.run.train.recipes.base import Unit
    from ferbench.run.train.setup import TrialSetup


def multi_target_loss() -> Any:
    """FER+ multi-target loss (Barsoum et al. 2016): ``-log max_i(t_i p_i)`` over the emotions the
    target ``t`` names, so predicting any of them is rewarded; on a one-hot label it is cross-entropy."""
    keras = require("keras")

    def loss(y_true: Any, y_pred: Any) -> Any:
        ops = keras.ops
        return -ops.log(ops.max(ops.cast(y_true, y_pred.dtype) * y_pred, axis=-1) + 1e-7)

    return keras.saving.register_keras_serializable(package="ferbench", name="multi_target_loss")(loss)


def any_target_hit() -> Any:
    """FER+ multi-target accuracy: a prediction is right when the target names its class (any emotion
    with 30% of the votes); on a one-hot label it is plain accuracy."""
    keras = require("keras")

    def hit(y_true: Any, y_pred: Any) -> Any:
        ops = keras.ops
        best = ops.expand_dims(ops.argmax(y_pred, axis=-1), -1)
        return ops.cast(ops.take_along_axis(ops.cast(y_true, "float32"), best, axis=-1)[..., 0] > 0, "float32")

    return keras.saving.register_keras_serializable(package="ferbench", name="any_target_hit")(hit)


def loss_and_accuracy(setup: TrialSetup, hp: Mapping[str, Any], units: Sequence[Unit]) -> tuple[Any, Any]:
    """The loss and the ``accuracy`` metric: distillation's own; FER+'s multi-target; categorical where labels
    are vectors (label smoothing, FER+ targets, a recipe that mixes labels); sparse otherwise."""
    from ferbench.run.train.recipes import find, needs_vectors
    from ferbench.run.train.recipes.distill import Distill, distill_loss, first_k_accuracy

    keras = require("keras")
    smoothing = float(hp["label_smoothing"])
    distill, k = find(units, Distill), setup.spec.num_classes
    if distill is not None:
        return (distill_loss(k, distill.temperature, distill.alpha, smoothing),
                keras.metrics.MeanMetricWrapper(first_k_accuracy(k), name="accuracy"))
    if setup.data.soft_train is not None and setup.data.labels_mode == "multi_target":
        return multi_target_loss(), keras.metrics.MeanMetricWrapper(any_target_hit(), name="accuracy")
    if smoothing > 0 or setup.data.soft_train is not None or needs_vectors(units):
        return keras.losses.CategoricalCrossentropy(label_smoothing=smoothing), keras.metrics.CategoricalAccuracy(name="accuracy")
    return keras.losses.SparseCategoricalCrossentropy(), keras.metrics.SparseCategoricalAccuracy(name="accuracy")
