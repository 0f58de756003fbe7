"""ResNet-18, -34 (basic blocks) and -50 (bottlenecks) of He et al. 2016: table, cost model, builder.

ResNet-50 is ``keras.applications.ResNet50`` layer for layer (convolutions with bias,
the stride on the first 1x1 conv of a block, a projection shortcut on the first block
of every stage). Keras ships no ResNet-18 or -34; they are the paper's basic blocks
(two 3x3 convs) with Keras's ResNet conventions for the rest: the same stem, batch
norm settings and padding, bias-free convolutions as in the paper and its reference
implementations, and a 1x1 projection shortcut (option B) where the shape changes.

Stage 0 is the stem (7x7/2 conv and 3x3/2 max pool), stages 1-4 are Keras's ``conv2``
to ``conv5``. ``width`` multiplies every convolution's filters (rounded to a multiple of
8 as EfficientNet rounds; 1 is the published network), so the family can be sized for
a CPU. The model subtracts ImageNet's mean pixel (Keras's "caffe" preprocessing,
for one grey channel the mean of the three; a trial from scratch scales to [-1, 1]
instead, see :mod:`ferbench.model.inputs`) and ends with global pooling, dropout and
one dense softmax layer. Importing this module imports no TensorFlow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ferbench._lazy import require
from ferbench.model.blocks import DATA_FORMAT, batch_norm, check_io, classifier, normalize, rescale
from ferbench.model.counting import BN, Cost, StageCost, Tally, conv, dense, same_out, total, valid_out
from ferbench.model.family import Family, ModelConfig, ModelConfigError, StagedBlock
from ferbench.model.inputs import PLUS_MINUS_ONE
from ferbench.model.scaling import round_filters

if TYPE_CHECKING:  # pragma: no cover
    import keras

BN_MOMENTUM = 0.99
BN_EPSILON = 1.001e-5  # Keras's ResNets; also the fused kernel's smallest
STEM_FILTERS = 64
#: ImageNet's mean pixel in RGB order, what Keras's "caffe" preprocessing subtracts (in BGR order).
IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)

BASIC = "basic"
BOTTLENECK = "bottleneck"


@dataclass(frozen=True)
class Variant:
    """One network: its block kind, blocks per stage, whether its convolutions have a bias."""

    block: str
    repeats: tuple[int, int, int, int]
    bias: bool
    keras: str | None  # the keras.applications function, where Keras has it


#: Stages 1-4 have 64, 128, 256 and 512 filters (times 4 at a bottleneck's output); stride 2 from stage 2 on.
FILTERS = (64, 128, 256, 512)
STRIDES = (1, 2, 2, 2)

VARIANTS: dict[str, Variant] = {
    "resnet18": Variant(BASIC, (2, 2, 2, 2), False, None),
    "resnet34": Variant(BASIC, (3, 4, 6, 3), False, None),
    "resnet50": Variant(BOTTLENECK, (3, 4, 6, 3), True, "ResNet50"),
}


def _family(name: str) -> Family:
    v = VARIANTS[name]
    op = "Basic block" if v.block == BASIC else "Bottleneck"
    ref = ("keras.applications.ResNet50 (He et al. 2016)" if v.keras else
           "He et al. 2016, Table 1 (basic blocks); Keras's ResNet conventions, bias-free convolutions")
    return Family(
        name=name,
        title=f"ResNet-{name[6:]}",
        reference=ref,
        stages=("Conv7x7 & MaxPool",) + (op,) * len(v.repeats),
        head="Pool & FC",
        takes=("width", "dropout"),
        defaults={"width": 1.0, "dropout": 0.2},
        module="ferbench.model.resnet",
        bn_momentum=BN_MOMENTUM,
        # From scratch, every ResNet starts each residual branch at zero (its last batch norm: a bottleneck's bn3, a basic
        # block's bn2): at a quarter width ResNet-50 barely learnt without it (training accuracy 26% after six epochs of
        # FER2013). Set after building, so the model is still built as Keras builds it.
        zero_init_last="bn3" if v.block == BOTTLENECK else "bn2",
        inputs_imagenet="imagenet_mean",
        imagenet=v.keras,
        imagenet_bgr=v.keras is not None,
    )


FAMILIES: tuple[Family, ...] = tuple(_family(n) for n in VARIANTS)


@dataclass(frozen=True)
class BlockPlan(StagedBlock):
    stage: int
    block: int  # 1-based within the stage
    kind: str
    input_filters: int
    filters: int  # the block's inner width (its output for basic blocks, a quarter of it for bottlenecks)
    strides: int
    shortcut: bool  # a projection shortcut (conv + batch norm)
    bias: bool

    @property
    def output_filters(self) -> int:
        return self.filters * 4 if self.kind == BOTTLENECK else self.filters


def stem_filters(config: ModelConfig) -> int:
    """The stem's filters at the configuration's width."""
    width = float(config.need("width"))
    if not width > 0:
        raise ModelConfigError(f"model.width must be > 0, got {width}")
    return round_filters(STEM_FILTERS, width)


def expand(config: ModelConfig) -> list[BlockPlan]:
    """Every kept block, in order."""
    v = VARIANTS[config.arch]
    blocks: list[BlockPlan] = []
    channels = stem_filters(config)
    for i, (unscaled, repeats, strides) in enumerate(zip(FILTERS, v.repeats, STRIDES)):
        stage = i + 1
        if stage not in config.stages:
            break
        filters = round_filters(unscaled, float(config.need("width")))
        for j in range(repeats):
            s = strides if j == 0 else 1
            out = filters * 4 if v.block == BOTTLENECK else filters
            # Keras's bottleneck stages always open with a projection; a basic block needs one only where the shape changes.
            shortcut = j == 0 and (v.block == BOTTLENECK or s != 1 or channels != out)
            blocks.append(BlockPlan(stage, j + 1, v.block, channels, filters, s, shortcut, v.bias))
            channels = out
    return blocks


def cost(config: ModelConfig, input_shape: tuple[int, int, int], num_classes: int) -> Cost:
    """Parameters (as ``count_params()``) and MACs per image of the model :func:`build` makes."""
    v = VARIANTS[config.arch]
    h, w, c = input_shape
    h, w = valid_out(h + 6, 7, 2), valid_out(w + 6, 7, 2)
    stem = stem_filters(config)
    t = Tally()
    t.add(conv(h, w, 7, c, stem, bias=v.bias))
    t.add(BN * stem)
    h, w = valid_out(h + 2, 3, 2), valid_out(w + 2, 3, 2)
    rows = [StageCost(0, "stem", 1, stem, h, t.params, t.macs)]
    channels = stem
    blocks = expand(config)
    for stage in config.stages[1:]:
        t = Tally()
        these = [b for b in blocks if b.stage == stage]
        for b in these:
            ho, wo = same_out(h, b.strides), same_out(w, b.strides)
            if b.shortcut:
                t.add(conv(ho, wo, 1, b.input_filters, b.output_filters, bias=b.bias))
                t.add(BN * b.output_filters)
            if b.kind == BOTTLENECK:
                t.add(conv(ho, wo, 1, b.input_filters, b.filters, bias=b.bias))
                t.add(conv(ho, wo, 3, b.filters, b.filters, bias=b.bias))
                t.add(conv(ho, wo, 1, b.filters, b.output_filters, bias=b.bias))
                t.add(BN * (2 * b.filters + b.output_filters))
            else:
                t.add(conv(ho, wo, 3, b.input_filters, b.filters, bias=b.bias))
                t.add(conv(ho, wo, 3, b.filters, b.filters, bias=b.bias))
                t.add(BN * 2 * b.filters)
            h, w = ho, wo
        channels = these[-1].output_filters
        rows.append(StageCost(stage, these[0].kind, len(these), channels, h, t.params, t.macs))
    rows.append(StageCost(len(v.repeats) + 1, "head", 1, channels, h, *dense(channels, num_classes)))
    return total(rows)


# --- Keras --------------------------------------------------------------------------------


def _conv(keras: Any, filters: int, kernel: int, strides: int, name: str, *, bias: bool, padding: str = "valid") -> Any:
    return keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=bias, data_format=DATA_FORMAT, name=name)


def _bn(keras: Any, name: str, fused: bool) -> Any:
    return batch_norm(keras, name, fused=fused, momentum=BN_MOMENTUM, epsilon=BN_EPSILON)


def _block(keras: Any, x: Any, b: BlockPlan, fused: bool) -> Any:
    layers, p = keras.layers, b.prefix
    shortcut = x
    if b.shortcut:  # created first, as Keras does
        shortcut = _conv(keras, b.output_filters, 1, b.strides, f"{p}shortcut_conv", bias=b.bias)(x)
        shortcut = _bn(keras, f"{p}shortcut_bn", fused)(shortcut)
    if b.kind == BOTTLENECK:
        x = _conv(keras, b.filters, 1, b.strides, f"{p}conv1", bias=b.bias)(x)
        x = _bn(keras, f"{p}bn1", fused)(x)
        x = layers.Activation("relu", name=f"{p}activation1")(x)
        x = _conv(keras, b.filters, 3, 1, f"{p}conv2", bias=b.bias, padding="same")(x)
        x = _bn(keras, f"{p}bn2", fused)(x)
        x = layers.Activation("relu", name=f"{p}activation2")(x)
        x = _conv(keras, b.output_filters, 1, 1, f"{p}conv3", bias=b.bias)(x)
        x = _bn(keras, f"{p}bn3", fused)(x)
    else:
        x = _conv(keras, b.filters, 3, b.strides, f"{p}conv1", bias=b.bias, padding="same")(x)
        x = _bn(keras, f"{p}bn1", fused)(x)
        x = layers.Activation("relu", name=f"{p}activation1")(x)
        x = _conv(keras, b.filters, 3, 1, f"{p}conv2", bias=b.bias, padding="same")(x)
        x = _bn(keras, f"{p}bn2", fused)(x)
    x = layers.Add(name=f"{p}add")([shortcut, x])
    return layers.Activation("relu", name=f"{p}out")(x)


def build(config: ModelConfig, input_shape: tuple[int, int, int], num_classes: int, *, preprocessing: bool = True,
          fused_batch_norm: bool = True) -> keras.Model:
    """The uncompiled model: the base without top, then global pooling, dropout and a dense softmax.

    With ``preprocessing`` it takes [0, 255] and subtracts ImageNet's mean pixel, as Keras does; or, with
    ``config.inputs`` ``-1..1`` (a trial from scratch, :mod:`ferbench.model.inputs`), scales to [-1, 1].
    """
    dropout = float(config.need("dropout"))
    problems = check_io(input_shape, num_classes, dropout)
    if problems:
        raise ModelConfigError("; ".join(problems))
    v = VARIANTS[config.arch]
    blocks = expand(config)
    keras = require("keras")
    layers = keras.layers
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if preprocessing and config.inputs == PLUS_MINUS_ONE:
        x = rescale(keras, x, 1.0 / 127.5, -1.0)
    elif preprocessing:
        mean = IMAGENET_MEAN_RGB if input_shape[2] == 3 else (sum(IMAGENET_MEAN_RGB) / 3,) * input_shape[2]
        x = normalize(keras, x, mean, (1.0,) * input_shape[2])
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), data_format=DATA_FORMAT, name="stage0_pad")(x)
    x = _conv(keras, stem_filters(config), 7, 2, "stage0_stem_conv", bias=v.bias)(x)
    x = _bn(keras, "stage0_stem_bn", fused_batch_norm)(x)
    x = layers.Activation("relu", name="stage0_stem_activation")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), data_format=DATA_FORMAT, name="stage0_pool_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, data_format=DATA_FORMAT, name="stage0_pool")(x)
    for b in blocks:
        x = _block(keras, x, b, fused_batch_norm)
    return keras.Model(inputs, classifier(keras, x, num_classes, dropout), name=config.arch)


# --- Keras's names, for its ImageNet weights -----------------------------------------------------

_BLOCK = re.compile(r"^stage(\d+)_block(\d+)_(shortcut_conv|shortcut_bn|conv[123]|bn[123])$")
_PARTS = {"shortcut_conv": "0_conv", "shortcut_bn": "0_bn", "conv1": "1_conv", "bn1": "1_bn", "conv2": "2_conv", "bn2": "2_bn",
          "conv3": "3_conv", "bn3": "3_bn"}
_FIXED = {"stage0_stem_conv": "conv1_conv", "stage0_stem_bn": "conv1_bn"}


def keras_layer_name(name: str, arch: str) -> str | None:
    """The name Keras's ResNet50 gives the layer ferbench names ``name`` (stage ``s`` is ``conv{s+1}``)."""
    if name in _FIXED:
        return _FIXED[name]
    m = _BLOCK.match(name)
    if m is None:
        return None
    return f"conv{int(m.group(1)) + 1}_block{m.group(2)}_{_PARTS[m.group(3)]}"
