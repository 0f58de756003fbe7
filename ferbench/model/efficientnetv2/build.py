"""Build the truncatable, scaled EfficientNetV2 (B0-B3, S, M, L) as an (uncompiled) Keras model.

The layers, their order, initialisers and batch-norm settings are those of
``keras.src.applications.efficientnet_v2`` (``EfficientNetV2``, ``MBConvBlock``,
``FusedMBConvBlock``); only the names differ, so that every layer says which stage and
block it belongs to (``stage4_block2_expand_conv``; stem ``stage0_stem_*``; head
``head_*`` and ``predictions``). The batch norms run on TensorFlow's fused kernel
(:mod:`ferbench.model.layers`: Keras's layer, same variables and math). The block list
comes from :func:`ferbench.model.efficientnetv2.arch.expand`, the same one the cost model counts.

Keras is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ferbench._lazy import require
from ferbench.model.blocks import DATA_FORMAT, batch_norm, check_io, classifier, normalize, rescale
from ferbench.model.efficientnetv2.arch import (
    ACTIVATION,
    ARCH,
    BN_EPSILON,
    BN_MOMENTUM,
    FUSED,
    HEAD_STAGE,
    STEM_KERNEL,
    STEM_STRIDES,
    BlockPlan,
    ModelConfigError,
    Plan,
    expand,
    variant,
)
from ferbench.model.family import layer_stage
from ferbench.model.inputs import PLUS_MINUS_ONE

if TYPE_CHECKING:  # pragma: no cover
    import keras


def _conv_init(keras: Any) -> Any:
    # Keras's CONV_KERNEL_INITIALIZER; a fresh instance per layer, as Keras deserialises one per layer.
    return keras.initializers.VarianceScaling(scale=2.0, mode="fan_out", distribution="truncated_normal")


def _conv(keras: Any, filters: int, kernel: int, strides: int, name: str, **kw: Any) -> Any:
    return keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=kw.pop("use_bias", False),
        kernel_initializer=_conv_init(keras),
        data_format=DATA_FORMAT,
        name=name,
        **kw,
    )


def _bn(keras: Any, name: str, fused_bn: bool) -> Any:
    return batch_norm(keras, name, fused=fused_bn, momentum=BN_MOMENTUM, epsilon=BN_EPSILON)


def _squeeze_excite(keras: Any, x: Any, b: BlockPlan) -> Any:
    """Squeeze-excitation on ``x`` (the expanded features), as in Keras's blocks."""
    layers, p, filters = keras.layers, b.prefix, b.expanded_filters
    se = layers.GlobalAveragePooling2D(data_format=DATA_FORMAT, name=f"{p}se_squeeze")(x)
    se = layers.Reshape((1, 1, filters), name=f"{p}se_reshape")(se)
    se = _conv(keras, b.se_filters, 1, 1, f"{p}se_reduce", use_bias=True, activation=ACTIVATION)(se)
    se = _conv(keras, filters, 1, 1, f"{p}se_expand", use_bias=True, activation="sigmoid")(se)
    return layers.multiply([x, se], name=f"{p}se_excite")


def _residual(keras: Any, x: Any, inputs: Any, b: BlockPlan) -> Any:
    if not b.residual:
        return x
    if b.drop_rate:
        # Stochastic depth as Keras implements it: whole-sample dropout of the branch.
        x = keras.layers.Dropout(b.drop_rate, noise_shape=(None, 1, 1, 1), name=f"{b.prefix}drop")(x)
    return keras.layers.add([x, inputs], name=f"{b.prefix}add")


def _mbconv(keras: Any, inputs: Any, b: BlockPlan, fused_bn: bool) -> Any:
    layers, p = keras.layers, b.prefix
    x = inputs
    if b.expand_ratio != 1:
        x = _conv(keras, b.expanded_filters, 1, 1, f"{p}expand_conv")(x)
        x = _bn(keras, f"{p}expand_bn", fused_bn)(x)
        x = layers.Activation(ACTIVATION, name=f"{p}expand_activation")(x)
    x = layers.DepthwiseConv2D(
        b.kernel_size,
        strides=b.strides,
        padding="same",
        use_bias=False,
        depthwise_initializer=_conv_init(keras),
        data_format=DATA_FORMAT,
        name=f"{p}dwconv2",
    )(x)
    x = _bn(keras, f"{p}bn", fused_bn)(x)
    x = layers.Activation(ACTIVATION, name=f"{p}activation")(x)
    if b.se_filters:
        x = _squeeze_excite(keras, x, b)
    x = _conv(keras, b.output_filters, 1, 1, f"{p}project_conv")(x)
    x = _bn(keras, f"{p}project_bn", fused_bn)(x)
    return _residual(keras, x, inputs, b)


def _fused_mbconv(keras: Any, inputs: Any, b: BlockPlan, fused_bn: bool) -> Any:
    layers, p = keras.layers, b.prefix
    x = inputs
    if b.expand_ratio != 1:
        x = _conv(keras, b.expanded_filters, b.kernel_size, b.strides, f"{p}expand_conv")(x)
        x = _bn(keras, f"{p}expand_bn", fused_bn)(x)
        x = layers.Activation(ACTIVATION, name=f"{p}expand_activation")(x)
    if b.se_filters:
        x = _squeeze_excite(keras, x, b)
    # Without an expansion the projection is the block's only conv, so it carries the
    # kernel and the stride (and, in Keras, its own activation).
    expanded = b.expand_ratio != 1
    x = _conv(keras, b.output_filters, 1 if expanded else b.kernel_size, 1 if expanded else b.strides, f"{p}project_conv")(x)
    x = _bn(keras, f"{p}project_bn", fused_bn)(x)
    if not expanded:
        x = layers.Activation(ACTIVATION, name=f"{p}project_activation")(x)
    return _residual(keras, x, inputs, b)


def _check(input_shape: tuple[int, ...], num_classes: int, dropout: float, drop_connect: float) -> None:
    problems = check_io(input_shape, num_classes, dropout)
    if not 0 <= drop_connect < 1:
        problems.append(f"model.drop_connect must be in [0, 1), got {drop_connect}")
    if problems:
        raise ModelConfigError("; ".join(problems))


def build_model(
    *,
    input_shape: tuple[int, int, int],
    num_classes: int,
    stages: tuple[int, ...],
    width: float,
    depth: float,
    top_filters: int,
    dropout: float,
    drop_connect: float = 0.2,
    name: str = "ferbench_effnetv2",
    preprocessing: bool = True,
    fused_batch_norm: bool = True,
    arch: str = ARCH,
    inputs: str | None = None,
) -> keras.Model:
    """Build the uncompiled EfficientNetV2 (``arch``, default S) for one configuration.

    ``stages`` is the kept prefix of 0..6 (0..7 for M and L; 0 = stem); ``width``/``depth`` scale channels
    and repeats with Keras's rounding; ``top_filters`` is the head conv width before width
    scaling (Keras's 1280, the thesis's numTopFilters); ``dropout`` is applied after the
    global pooling (no layer when 0); ``drop_connect`` is the stochastic-depth rate.

    With ``preprocessing`` (the default, as Keras's ``include_preprocessing=True``) the
    model takes pixel values in [0, 255] and rescales them itself as Keras does: to
    [-1, 1], or for B0-B3 on RGB input by ImageNet's mean and standard deviation; pass
    False when the input is already scaled. ``inputs`` ``-1..1`` (a trial from scratch,
    :mod:`ferbench.model.inputs`) scales every variant to [-1, 1]. The softmax output is float32 under any
    mixed-precision policy.

    With ``fused_batch_norm`` (the default) the batch norms are
    :class:`~ferbench.model.layers.FusedBatchNormalization`: Keras's layer on TensorFlow's
    fused kernel, same variables and math; False builds Keras's own layer.
    """
    keras = require("keras")
    _check(input_shape, num_classes, dropout, drop_connect)
    plan = expand(stages=tuple(stages), width=width, depth=depth, top_filters=top_filters, drop_connect=drop_connect, arch=arch)
    if plan.blocks and plan.blocks[-1].drop_rate >= 1:
        raise ModelConfigError(
            f"model.drop_connect={drop_connect} with depth {depth} gives a stochastic-depth rate of "
            f"{plan.blocks[-1].drop_rate:.3f} >= 1 in the last block; lower drop_connect"
        )
    image = keras.Input(shape=tuple(int(v) for v in input_shape), name="image")
    x = _preprocess(keras, image, arch, int(input_shape[2]), inputs) if preprocessing else image
    x = _stem(keras, x, plan, fused_batch_norm)
    for b in plan.blocks:
        x = (_fused_mbconv if b.kind == FUSED else _mbconv)(keras, x, b, fused_batch_norm)
    x = _conv(keras, plan.head_filters, 1, 1, "head_conv")(x)
    x = _bn(keras, "head_bn", fused_batch_norm)(x)
    x = keras.layers.Activation(ACTIVATION, name="head_activation")(x)
    return keras.Model(image, classifier(keras, x, num_classes, dropout), name=name)


def _preprocess(keras: Any, x: Any, arch: str, channels: int, inputs: str | None) -> Any:
    """Keras's ``include_preprocessing``: [0, 255] to [-1, 1], or ImageNet's statistics for B0-B3 on RGB
    (unless ``inputs`` is ``-1..1``)."""
    if variant(arch).table == "b" and channels == 3 and inputs != PLUS_MINUS_ONE:
        # Keras's B0-B3 keep EfficientNet (v1)'s ImageNet normalisation for RGB input.
        x = rescale(keras, x, 1.0 / 255.0, 0.0)
        return normalize(keras, x, (0.485, 0.456, 0.406), (0.229**2, 0.224**2, 0.225**2))
    return rescale(keras, x, 1.0 / 128.0, -1)


def _stem(keras: Any, x: Any, plan: Plan, fused_bn: bool) -> Any:
    x = _conv(keras, plan.stem_filters, STEM_KERNEL, STEM_STRIDES, "stage0_stem_conv")(x)
    x = _bn(keras, "stage0_stem_bn", fused_bn)(x)
    return keras.layers.Activation(ACTIVATION, name="stage0_stem_activation")(x)


def stage_outputs(model: keras.Model, head_stage: int = HEAD_STAGE) -> dict[int, str]:
    """Name of the last layer of each stage in a built model (stage -> layer name; the head is ``head_stage``).

    Useful to cut a model at a stage boundary or to attach probes to stage outputs.
    """
    last: dict[int, str] = {}
    for layer in model.layers:
        stage = layer_stage(layer.name, head_stage)
        if stage is not None:
            last[stage] = layer.name
    return last
