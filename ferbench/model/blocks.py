"""Keras pieces every family's builder shares: batch norm, input scaling and the classifier.

Keras is passed in (or imported when called): importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DATA_FORMAT = "channels_last"


def batch_norm(keras: Any, name: str, *, fused: bool, momentum: float = 0.99, epsilon: float = 1e-3, axis: int = 3) -> Any:
    """A channels-last batch norm: TensorFlow's fused kernel (:mod:`ferbench.model.layers`) or Keras's own layer.

    ``axis`` is 3 or -1 (the same axis), as the family's Keras application writes it.
    """
    if fused:
        from ferbench.model.layers import FusedBatchNormalization

        return FusedBatchNormalization(axis=axis, momentum=momentum, epsilon=epsilon, name=name)
    return keras.layers.BatchNormalization(axis=axis, momentum=momentum, epsilon=epsilon, name=name)


def set_bn_momentum(model: Any, momentum: float) -> int:
    """Give every batch norm of a built model this momentum; how many there were.

    Keras's layer (and the fused one) read ``momentum`` when the training step is traced,
    so this holds for a model not yet compiled; its saved configuration keeps the value.
    """
    keras = _keras()
    count = 0
    for layer in model.layers:  # a family's model is flat
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
            count += 1
    return count


def zero_gamma(model: Any, suffix: str) -> int:
    """Set gamma to 0 in every batch norm whose name ends with ``_{suffix}``; how many there were.

    Each residual branch then starts as nothing, and its block as the identity (or its
    shortcut): a deep network from scratch starts shallow (Goyal et al. 2017, timm's ``zero_init_last``).
    """
    keras = _keras()
    count = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization) and layer.name.endswith(f"_{suffix}") and layer.scale:
            layer.gamma.assign(keras.ops.zeros_like(layer.gamma))
            count += 1
    return count


def _keras() -> Any:
    from ferbench._lazy import require

    return require("keras")


def rescale(keras: Any, x: Any, scale: float, offset: float) -> Any:
    """``x * scale + offset`` as the model's first layer (``stage0_rescale``; no weights)."""
    return keras.layers.Rescaling(scale=scale, offset=offset, name="stage0_rescale")(x)


def normalize(keras: Any, x: Any, mean: Sequence[float], variance: Sequence[float]) -> Any:
    """Per-channel ``(x - mean) / sqrt(variance)`` with constants (``stage0_normalize``; no weights)."""
    return keras.layers.Normalization(mean=list(mean), variance=list(variance), axis=3, name="stage0_normalize")(x)


def dense_initializer(keras: Any) -> Any:
    """Keras's EfficientNet classifier initialiser, used for every family's classifier."""
    return keras.initializers.VarianceScaling(scale=1.0 / 3.0, mode="fan_out", distribution="uniform")


def classifier(keras: Any, x: Any, num_classes: int, dropout: float) -> Any:
    """Global average pooling, dropout (no layer when 0) and one dense softmax layer, float32.

    The head every Keras family gets on top of its base without top, as for EfficientNetV2.
    """
    layers = keras.layers
    x = layers.GlobalAveragePooling2D(data_format=DATA_FORMAT, name="head_pool")(x)
    return softmax_dense(keras, x, num_classes, dropout)


def softmax_dense(keras: Any, x: Any, num_classes: int, dropout: float) -> Any:
    """Dropout (no layer when 0), then the dense softmax ``predictions`` layer, float32.

    float32 whatever the global policy: a float16 softmax under- and overflows.
    """
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return keras.layers.Dense(num_classes, activation="softmax", kernel_initializer=dense_initializer(keras),
                              bias_initializer="zeros", dtype="float32", name="predictions")(x)


def check_io(input_shape: tuple[int, ...], num_classes: int, dropout: float | None = None) -> list[str]:
    """Problems with an input shape, a class count and a dropout rate."""
    problems = []
    if len(tuple(input_shape)) != 3 or any(int(v) < 1 for v in input_shape):
        problems.append(f"input shape must be (height, width, channels), got {tuple(input_shape)}")
    if num_classes < 1:
        problems.append(f"the number of classes must be >= 1, got {num_classes}")
    if dropout is not None and not 0 <= dropout < 1:
        problems.append(f"model.dropout must be in [0, 1), got {dropout}")
    return problems
