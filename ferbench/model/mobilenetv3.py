"""MobileNetV3-Small and -Large (Howard et al. 2019) as Keras defines them: table, cost model, builder.

The tables are the ``stack_fn`` of ``keras.applications.MobileNetV3Small`` and
``MobileNetV3Large`` (not minimalistic), block by block, grouped into stages by output
width as in the paper's tables. ``width`` is Keras's ``alpha``: every block's output
channels are ``_depth(filters * alpha)``; the stem keeps 16 channels and the head conv
has six times the last stage's channels, as in Keras. The base ends at that head conv
(Keras's ``include_top=False``); ferbench puts global pooling, dropout and one dense
softmax layer on top. Importing this module imports no TensorFlow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ferbench._lazy import require
from ferbench.model.blocks import DATA_FORMAT, batch_norm, check_io, classifier, rescale
from ferbench.model.counting import BN, Cost, StageCost, Tally, conv, dense, depthwise, same_out, total
from ferbench.model.family import Family, ModelConfig, ModelConfigError, StagedBlock

if TYPE_CHECKING:  # pragma: no cover
    import keras

RELU = "relu"
HSWISH = "hard_swish"
BN_MOMENTUM = 0.999
BN_EPSILON = 1e-3
SE_RATIO = 0.25
STEM_FILTERS = 16
HEAD_EXPANSION = 6


@dataclass(frozen=True)
class BlockArgs:
    """One inverted-residual block, as Keras's ``_inverted_res_block`` takes it (unscaled)."""

    stage: int
    expansion: float
    filters: int
    kernel_size: int
    strides: int
    se: bool
    activation: str


def _stage(stage: int, *rows: tuple[float, int, int, int, bool, str]) -> tuple[BlockArgs, ...]:
    return tuple(BlockArgs(stage, *row) for row in rows)


#: Keras's ``MobileNetV3Small`` stack (block ids 0-10, in order), stages 1-5.
SMALL: tuple[BlockArgs, ...] = (
    *_stage(1, (1, 16, 3, 2, True, RELU)),
    *_stage(2, (72.0 / 16, 24, 3, 2, False, RELU), (88.0 / 24, 24, 3, 1, False, RELU)),
    *_stage(3, (4, 40, 5, 2, True, HSWISH), (6, 40, 5, 1, True, HSWISH), (6, 40, 5, 1, True, HSWISH)),
    *_stage(4, (3, 48, 5, 1, True, HSWISH), (3, 48, 5, 1, True, HSWISH)),
    *_stage(5, (6, 96, 5, 2, True, HSWISH), (6, 96, 5, 1, True, HSWISH), (6, 96, 5, 1, True, HSWISH)),
)

#: Keras's ``MobileNetV3Large`` stack (block ids 0-14, in order), stages 1-6.
LARGE: tuple[BlockArgs, ...] = (
    *_stage(1, (1, 16, 3, 1, False, RELU)),
    *_stage(2, (4, 24, 3, 2, False, RELU), (3, 24, 3, 1, False, RELU)),
    *_stage(3, (3, 40, 5, 2, True, RELU), (3, 40, 5, 1, True, RELU), (3, 40, 5, 1, True, RELU)),
    *_stage(4, (6, 80, 3, 2, False, HSWISH), (2.5, 80, 3, 1, False, HSWISH), (2.3, 80, 3, 1, False, HSWISH), (2.3, 80, 3, 1, False, HSWISH)),
    *_stage(5, (6, 112, 3, 1, True, HSWISH), (6, 112, 3, 1, True, HSWISH)),
    *_stage(6, (6, 160, 5, 2, True, HSWISH), (6, 160, 5, 1, True, HSWISH), (6, 160, 5, 1, True, HSWISH)),
)

TABLES = {"mobilenetv3-small": SMALL, "mobilenetv3-large": LARGE}


def _depth(v: float, divisor: int = 8) -> int:
    """Keras's ``_depth``: round to a multiple of 8, never below 8 nor 10 % below ``v``."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _operator(rows: tuple[BlockArgs, ...]) -> str:
    a = rows[0]
    se = " SE" if a.se else ""
    act = "ReLU" if a.activation == RELU else "h-swish"
    return f"bneck k{a.kernel_size}x{a.kernel_size}{se} {act}"


def _family(name: str, title: str, keras_name: str, table: tuple[BlockArgs, ...]) -> Family:
    stages = sorted({b.stage for b in table})
    return Family(
        name=name,
        title=title,
        reference=f"keras.applications.{keras_name} (Howard et al. 2019), alpha = width, not minimalistic",
        stages=("Conv3x3 h-swish",) + tuple(_operator(tuple(b for b in table if b.stage == s)) for s in stages),
        head="Conv1x1 & Pool & FC",
        takes=("width", "dropout"),
        defaults={"width": 1.0, "dropout": 0.2},
        module="ferbench.model.mobilenetv3",
        bn_momentum=BN_MOMENTUM,
        imagenet=keras_name,
        small_input=True,
    )


FAMILIES: tuple[Family, ...] = (
    _family("mobilenetv3-small", "MobileNetV3-Small", "MobileNetV3Small", SMALL),
    _family("mobilenetv3-large", "MobileNetV3-Large", "MobileNetV3Large", LARGE),
)


@dataclass(frozen=True)
class BlockPlan(StagedBlock):
    """One block after width scaling: what the builder creates and the cost model counts."""

    stage: int
    block: int  # 1-based within the stage
    block_id: int  # Keras's block id (0-based over the network)
    input_filters: int
    expanded_filters: int
    output_filters: int
    kernel_size: int
    strides: int
    se_filters: int  # 0 without squeeze-excitation
    activation: str


def expand(config: ModelConfig) -> tuple[list[BlockPlan], int]:
    """Every kept block in Keras's order, and the head conv's width."""
    table = TABLES[config.arch]
    alpha = float(config.need("width"))
    if not alpha > 0:
        raise ModelConfigError(f"model.width must be > 0, got {alpha}")
    blocks: list[BlockPlan] = []
    channels = STEM_FILTERS
    per_stage: dict[int, int] = {}
    for block_id, a in enumerate(table):
        if a.stage not in config.stages:
            continue
        per_stage[a.stage] = per_stage.get(a.stage, 0) + 1
        out = _depth(a.filters * alpha)
        # Keras's first block has no expansion conv: its "expanded" width is its input.
        expanded = _depth(channels * a.expansion) if block_id else channels
        se = _depth(_depth(channels * a.expansion) * SE_RATIO) if a.se else 0
        blocks.append(BlockPlan(a.stage, per_stage[a.stage], block_id, channels, expanded, out, a.kernel_size, a.strides, se, a.activation))
        channels = out
    return blocks, _depth(channels * HEAD_EXPANSION)


def correct_pad(h: int, w: int, kernel_size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The zero padding Keras puts before a stride-2 depthwise conv (``imagenet_utils.correct_pad``)."""
    adjust = (1 - h % 2, 1 - w % 2)
    c = kernel_size // 2
    return (c - adjust[0], c), (c - adjust[1], c)


#: The smallest side of the last stage's feature map the network is meant to end with: at ImageNet's 224 px
#: MobileNetV3 ends at 7x7; at 48 px Keras's five stride-2 steps leave 2x2, where every 5x5 depthwise kernel of
#: the last stage sees mostly zero padding and squeeze-excitation pools four positions.
MIN_LAST_SIDE = 3


def small_input(config: ModelConfig, input_shape: tuple[int, int, int]) -> bool:
    """Whether a model for small inputs drops its stem's stride: when the kept stages would end under
    :data:`MIN_LAST_SIDE` positions a side with it (as CIFAR adaptations of ImageNet networks drop the first stride)."""
    side = same_out(min(int(input_shape[0]), int(input_shape[1])), 2)
    for b in expand(config)[0]:
        side = same_out(side, b.strides)
    return side < MIN_LAST_SIDE


def stem_strides(config: ModelConfig) -> int:
    """The stem's stride: Keras's 2, or 1 for a model built with the small-input adaptation (``config.small_input``)."""
    return 1 if config.small_input else 2


def cost(config: ModelConfig, input_shape: tuple[int, int, int], num_classes: int) -> Cost:
    """Parameters (as ``count_params()``) and MACs per image of the model :func:`build` makes."""
    h, w, c = input_shape
    blocks, head = expand(config)
    h, w = same_out(h, stem_strides(config)), same_out(w, stem_strides(config))
    rows = [StageCost(0, "stem", 1, STEM_FILTERS, h, *_sum(conv(h, w, 3, c, STEM_FILTERS), BN * STEM_FILTERS))]
    channels = STEM_FILTERS
    for stage in config.stages[1:]:
        t = Tally()
        these = [b for b in blocks if b.stage == stage]
        for b in these:
            if b.block_id:
                t.add(conv(h, w, 1, b.input_filters, b.expanded_filters))
                t.add(BN * b.expanded_filters)
            h, w = same_out(h, b.strides), same_out(w, b.strides)
            t.add(depthwise(h, w, b.kernel_size, b.expanded_filters))
            t.add(BN * b.expanded_filters)
            if b.se_filters:
                t.add(dense(b.expanded_filters, b.se_filters))
                t.add(dense(b.se_filters, b.expanded_filters))
            t.add(conv(h, w, 1, b.expanded_filters, b.output_filters))
            t.add(BN * b.output_filters)
        channels = these[-1].output_filters
        rows.append(StageCost(stage, "bneck", len(these), channels, h, t.params, t.macs))
    t = Tally()
    t.add(conv(h, w, 1, channels, head))
    t.add(BN * head)
    t.add(dense(head, num_classes))
    rows.append(StageCost(len(_stages(config.arch)), "head", 1, head, h, t.params, t.macs))
    return total(rows)


def _stages(arch: str) -> tuple[int, ...]:
    return (0, *sorted({b.stage for b in TABLES[arch]}))


def _sum(*parts: tuple[int, int] | int) -> tuple[int, int]:
    t = Tally()
    for p in parts:
        t.add(p)
    return t.params, t.macs


# --- Keras --------------------------------------------------------------------------------


def _activation(keras: Any, kind: str, name: str) -> Any:
    # Keras applies ReLU as a ReLU layer and hard swish as an Activation layer.
    return keras.layers.ReLU(name=name) if kind == RELU else keras.layers.Activation(HSWISH, name=name)


def _block(keras: Any, x: Any, b: BlockPlan, fused: bool) -> Any:
    layers, p = keras.layers, b.prefix
    shortcut = x
    if b.block_id:
        x = layers.Conv2D(b.expanded_filters, 1, padding="same", use_bias=False, data_format=DATA_FORMAT, name=f"{p}expand_conv")(x)
        x = batch_norm(keras, f"{p}expand_bn", fused=fused, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, axis=-1)(x)
        x = _activation(keras, b.activation, f"{p}expand_activation")(x)
    if b.strides == 2:
        x = layers.ZeroPadding2D(padding=correct_pad(int(x.shape[1]), int(x.shape[2]), b.kernel_size), data_format=DATA_FORMAT,
                                 name=f"{p}pad")(x)
    x = layers.DepthwiseConv2D(b.kernel_size, strides=b.strides, padding="same" if b.strides == 1 else "valid", use_bias=False,
                               data_format=DATA_FORMAT, name=f"{p}dwconv")(x)
    x = batch_norm(keras, f"{p}bn", fused=fused, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, axis=-1)(x)
    x = _activation(keras, b.activation, f"{p}activation")(x)
    if b.se_filters:
        inputs = x
        x = layers.GlobalAveragePooling2D(keepdims=True, data_format=DATA_FORMAT, name=f"{p}se_squeeze")(x)
        x = layers.Conv2D(b.se_filters, 1, padding="same", data_format=DATA_FORMAT, name=f"{p}se_reduce")(x)
        x = layers.ReLU(name=f"{p}se_reduce_activation")(x)
        x = layers.Conv2D(b.expanded_filters, 1, padding="same", data_format=DATA_FORMAT, name=f"{p}se_expand")(x)
        # Keras's hard sigmoid: ReLU6(x + 3) / 6, with the arithmetic as operations.
        x = layers.ReLU(6.0, name=f"{p}se_gate")(x + 3.0) * (1.0 / 6.0)
        x = layers.Multiply(name=f"{p}se_excite")([inputs, x])
    x = layers.Conv2D(b.output_filters, 1, padding="same", use_bias=False, data_format=DATA_FORMAT, name=f"{p}project_conv")(x)
    x = batch_norm(keras, f"{p}project_bn", fused=fused, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, axis=-1)(x)
    if b.residual:
        x = layers.Add(name=f"{p}add")([shortcut, x])
    return x


def build(config: ModelConfig, input_shape: tuple[int, int, int], num_classes: int, *, preprocessing: bool = True,
          fused_batch_norm: bool = True) -> keras.Model:
    """The uncompiled model: Keras's base without top, then global pooling, dropout and a dense softmax.

    With ``preprocessing`` it takes [0, 255] and rescales to [-1, 1] as Keras does. ``config.small_input`` builds
    the stem with stride 1 (see :func:`small_input`); the weights keep their shapes.
    """
    dropout = float(config.need("dropout"))
    problems = check_io(input_shape, num_classes, dropout)
    if problems:
        raise ModelConfigError("; ".join(problems))
    blocks, head = expand(config)
    keras = require("keras")
    layers = keras.layers
    inputs = keras.Input(shape=input_shape, name="image")
    x = rescale(keras, inputs, 1.0 / 127.5, -1.0) if preprocessing else inputs
    stride = stem_strides(config)
    x = layers.Conv2D(STEM_FILTERS, 3, strides=(stride, stride), padding="same", use_bias=False, data_format=DATA_FORMAT, name="stage0_stem_conv")(x)
    x = batch_norm(keras, "stage0_stem_bn", fused=fused_batch_norm, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, axis=-1)(x)
    x = _activation(keras, HSWISH, "stage0_stem_activation")(x)
    for b in blocks:
        x = _block(keras, x, b, fused_batch_norm)
    x = layers.Conv2D(head, 1, padding="same", use_bias=False, data_format=DATA_FORMAT, name="head_conv")(x)
    x = batch_norm(keras, "head_bn", fused=fused_batch_norm, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, axis=-1)(x)
    x = _activation(keras, HSWISH, "head_activation")(x)
    return keras.Model(inputs, classifier(keras, x, num_classes, dropout), name=config.arch.replace("-", "_"))


# --- Keras's names, for its ImageNet weights -----------------------------------------------------

_BLOCK = re.compile(r"^stage(\d+)_block(\d+)_(.+)$")
_PARTS = {"expand_conv": "expand", "expand_bn": "expand_bn", "dwconv": "depthwise", "bn": "depthwise_bn",
          "se_reduce": "squeeze_excite_conv", "se_expand": "squeeze_excite_conv_1", "project_conv": "project", "project_bn": "project_bn"}
_FIXED = {"stage0_stem_conv": "conv", "stage0_stem_bn": "conv_bn", "head_conv": "conv_1", "head_bn": "conv_1_bn"}


def keras_layer_name(name: str, arch: str) -> str | None:
    """The name Keras's MobileNetV3 gives the layer ferbench names ``name`` (``expanded_conv_{id}_...``)."""
    if name in _FIXED:
        return _FIXED[name]
    m = _BLOCK.match(name)
    if m is None or m.group(3) not in _PARTS:
        return None
    stage, block = int(m.group(1)), int(m.group(2))
    ids = [i for i, b in enumerate(TABLES[arch]) if b.stage == stage]
    if block > len(ids):
        return None
    block_id = ids[block - 1]
    prefix = f"expanded_conv_{block_id}_" if block_id else "expanded_conv_"
    return prefix + _PARTS[m.group(3)]
