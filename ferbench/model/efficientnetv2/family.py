"""The EfficientNetV2 families (B0-B3, S, M, L) behind the interface every family module has.

The table is :mod:`.arch`, the builder :mod:`.build` (Keras), the cost model
:mod:`.cost`; this module gives them the signatures every family has, and maps ferbench's layer names to those of Keras's application (for its
ImageNet weights). Importing it imports no TensorFlow.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ferbench.model.counting import Cost
from ferbench.model.efficientnetv2.arch import config_plan
from ferbench.model.family import ModelConfig

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = ["build", "cost", "keras_layer_name"]


def cost(config: ModelConfig, input_shape: tuple[int, int, int], num_classes: int) -> Cost:
    """Parameters and MACs per image (see :func:`ferbench.model.efficientnetv2.cost.model_cost`)."""
    from ferbench.model.efficientnetv2.cost import model_cost

    return model_cost(input_shape=input_shape, num_classes=num_classes, stages=config.stages, width=float(config.need("width")),
                      depth=float(config.need("depth")), top_filters=int(config.need("top_filters")), arch=config.arch)


def build(config: ModelConfig, input_shape: tuple[int, int, int], num_classes: int, *, preprocessing: bool = True,
          fused_batch_norm: bool = True) -> keras.Model:
    """The uncompiled Keras model (see :func:`ferbench.model.efficientnetv2.build.build_model`)."""
    from ferbench.model.efficientnetv2.build import build_model

    config_plan(config)  # refuses a bad configuration before Keras is imported
    return build_model(input_shape=input_shape, num_classes=num_classes, stages=config.stages, width=float(config.need("width")),
                       depth=float(config.need("depth")), top_filters=int(config.need("top_filters")),
                       dropout=float(config.need("dropout")), drop_connect=float(config.need("drop_connect")), arch=config.arch,
                       preprocessing=preprocessing, fused_batch_norm=fused_batch_norm, inputs=config.inputs)


_BLOCK = re.compile(r"^stage(\d+)_block(\d+)_(.+)$")
_FIXED = {"stage0_stem_conv": "stem_conv", "stage0_stem_bn": "stem_bn", "head_conv": "top_conv", "head_bn": "top_bn"}


def keras_layer_name(name: str, arch: str) -> str | None:
    """The name Keras's EfficientNetV2 application gives the layer ferbench names ``name``.

    ``stage4_block2_expand_conv`` is Keras's ``block4b_expand_conv`` (stage ``s``, block
    ``j`` is ``block{s}{letter j}``); the stem and the head conv are ``stem_*`` and ``top_*``.
    The same in every variant (``arch``).
    """
    if name in _FIXED:
        return _FIXED[name]
    m = _BLOCK.match(name)
    if m is None:
        return None
    stage, block, part = int(m.group(1)), int(m.group(2)), m.group(3)
    return f"block{stage}{chr(96 + block)}_{part}" if block <= 26 else None
