"""The VGG variant of Khaireddin & Chen 2021 (arXiv 2105.03588), 73.28 % on FER2013: table, cost model, builder.

As the authors' released code (``models/vgg.py``, PyTorch) defines it: four stages of
two 3x3 convolutions (with bias, ``padding=1``), each followed by batch norm and ReLU,
and a 2x2/2 max pool, with 64, 128, 256 and 512 filters; then the map is flattened
into two 4096-wide dense layers with ReLU and dropout (0.2) and a dense classifier.
The authors trained on 40x40 crops, where the flattened map is 2x2x512. PyTorch's batch
norm (momentum 0.1, epsilon 1e-5) is Keras's momentum 0.9, with epsilon 1.001e-5, the
fused kernel's smallest; Keras's initialisers; inputs in [0, 255] are scaled to [0, 1].

ferbench adds ``width`` (multiplies every stage's filters, rounded to a multiple of 8
as EfficientNet rounds) and ``top_filters`` (the dense layers' width, 4096, scaled by
``width`` like EfficientNet's head), so the network can be sized for a CPU. Importing
this module imports no TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferbench._lazy import require
from ferbench.model.blocks import DATA_FORMAT, batch_norm, check_io, dense_initializer, rescale
from ferbench.model.counting import BN, Cost, StageCost, Tally, conv, dense, same_out, total, valid_out
from ferbench.model.family import Family, ModelConfig, ModelConfigError
from ferbench.model.scaling import round_filters

if TYPE_CHECKING:  # pragma: no cover
    import keras

FILTERS = (64, 128, 256, 512)
TOP_FILTERS = 4096
BN_MOMENTUM = 0.9
BN_EPSILON = 1.001e-5

FAMILIES: tuple[Family, ...] = (
    Family(
        name="vggnet-khaireddin",
        title="VGGNet (Khaireddin & Chen)",
        reference="Khaireddin & Chen 2021 (arXiv 2105.03588), the authors' released models/vgg.py",
        stages=("Conv3x3 ×2 & MaxPool",) * len(FILTERS),
        head="Flatten & FC ×3",
        takes=("width", "dropout", "top_filters"),
        defaults={"width": 1.0, "dropout": 0.2, "top_filters": TOP_FILTERS},
        module="ferbench.model.vgg",
        bn_momentum=BN_MOMENTUM,
        inputs="0..1",
    ),
)


def widths(config: ModelConfig) -> tuple[list[int], int]:
    """Every kept stage's filters and the dense layers' width."""
    width = float(config.need("width"))
    top = int(config.need("top_filters"))
    if not width > 0 or top < 1:
        raise ModelConfigError(f"model.width must be > 0 and model.top_filters >= 1, got {width} and {top}")
    return [round_filters(FILTERS[s], width) for s in config.stages], round_filters(top, width)


def cost(config: ModelConfig, input_shape: tuple[int, int, int], num_classes: int) -> Cost:
    """Parameters (as ``count_params()``) and MACs per image of the model :func:`build` makes."""
    h, w, c = input_shape
    filters, top = widths(config)
    rows = []
    for stage, f in zip(config.stages, filters):
        t = Tally()
        for c_in in (c, f):
            t.add(conv(same_out(h, 1), same_out(w, 1), 3, c_in, f, bias=True))
            t.add(BN * f)
        h, w, c = valid_out(h, 2, 2), valid_out(w, 2, 2), f
        rows.append(StageCost(stage, "conv", 2, f, h, t.params, t.macs))
    t = Tally()
    t.add(dense(h * w * c, top))
    t.add(dense(top, top))
    t.add(dense(top, num_classes))
    rows.append(StageCost(len(FILTERS), "head", 3, top, h, t.params, t.macs))
    return total(rows)


def build(config: ModelConfig, input_shape: tuple[int, int, int], num_classes: int, *, preprocessing: bool = True,
          fused_batch_norm: bool = True) -> keras.Model:
    """The uncompiled model, its softmax float32 under any precision policy."""
    dropout = float(config.need("dropout"))
    problems = check_io(input_shape, num_classes, dropout)
    if problems:
        raise ModelConfigError("; ".join(problems))
    filters, top = widths(config)
    if any(valid_out(int(input_shape[i]), 2, 2) < 1 for i in (0, 1)):
        raise ModelConfigError(f"the input {input_shape[0]}x{input_shape[1]} is too small for {config.arch}")
    keras = require("keras")
    layers = keras.layers
    inputs = keras.Input(shape=input_shape, name="image")
    x = rescale(keras, inputs, 1.0 / 255.0, 0.0) if preprocessing else inputs
    for stage, f in zip(config.stages, filters):
        for i in (1, 2):
            x = layers.Conv2D(f, 3, padding="same", data_format=DATA_FORMAT, name=f"stage{stage}_conv{i}")(x)
            x = batch_norm(keras, f"stage{stage}_bn{i}", fused=fused_batch_norm, momentum=BN_MOMENTUM, epsilon=BN_EPSILON)(x)
            x = layers.Activation("relu", name=f"stage{stage}_activation{i}")(x)
        x = layers.MaxPooling2D(2, strides=2, data_format=DATA_FORMAT, name=f"stage{stage}_pool")(x)
    x = layers.Flatten(data_format=DATA_FORMAT, name="head_flatten")(x)
    for i in (1, 2):
        x = layers.Dense(top, activation="relu", name=f"head_fc{i}")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"head_dropout{i}")(x)
    outputs = layers.Dense(num_classes, activation="softmax", kernel_initializer=dense_initializer(keras), dtype="float32",
                           name="predictions")(x)
    return keras.Model(inputs, outputs, name="vggnet_khaireddin")
