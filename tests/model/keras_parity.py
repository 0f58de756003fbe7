"""What two Keras models are compared on: layer classes, configurations and weight shapes in order, and MACs read off the layers."""

from __future__ import annotations

from typing import Any

import keras

# Config keys that legitimately differ between two builds of the same network.
IGNORED = {"name", "dtype"}


def keras_class(layer: Any) -> str:
    """The layer's class, or for ferbench's subclasses (fused batch norm) the Keras class they extend."""
    return next(c.__name__ for c in type(layer).__mro__ if c.__module__.startswith("keras."))


def signature(model: Any, stop: str) -> list[tuple[str, dict, list]]:
    """Layer classes, configs (names aside) and weight shapes in build order, up to and including ``stop``."""
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        cfg = {k: v for k, v in layer.get_config().items() if k not in IGNORED}
        out.append((keras_class(layer), cfg, [tuple(w.shape) for w in layer.weights]))
        if layer.name == stop:
            break
    return out


def macs_by_walking(model: Any) -> int:
    """MACs per image, read off the built layers' kernels and output shapes."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.SeparableConv2D):
            _, ho, wo, _ = layer.output.shape
            kh, kw, c, mult = layer.depthwise_kernel.shape
            total += ho * wo * kh * kw * c * mult + ho * wo * int(layer.pointwise_kernel.shape[2]) * int(layer.pointwise_kernel.shape[3])
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            _, ho, wo, _ = layer.output.shape
            kh, kw, c, mult = layer.kernel.shape
            total += ho * wo * kh * kw * c * mult
        elif isinstance(layer, keras.layers.Conv2D):
            _, ho, wo, _ = layer.output.shape
            kh, kw, cin, cout = layer.kernel.shape
            total += ho * wo * kh * kw * cin * cout
        elif isinstance(layer, keras.layers.Dense):
            cin, cout = layer.kernel.shape
            total += cin * cout
    return int(total)
