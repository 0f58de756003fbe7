"""Parameters and multiply-accumulates of the scaled EfficientNetV2, without TensorFlow.

Counting conventions (see ``docs/model.md`` and :mod:`ferbench.model.counting`):

* **params** is what Keras's ``Model.count_params()`` reports: every weight, trainable
  or not, so each BatchNormalization counts 4 per channel (gamma, beta, moving mean,
  moving variance); convolutions have no bias except the squeeze-excitation ones; the
  classifier Dense has a bias.
* **macs** is multiply-accumulates per image of convolution and dense kernels only:
  ``out_h * out_w * k_h * k_w * c_in * c_out`` for a convolution, ``out_h * out_w * k_h *
  k_w * c`` for a depthwise one, ``c_in * c_out`` for a dense or a 1x1 convolution on a
  pooled vector (squeeze-excitation). Batch norm (foldable into the convolution at
  inference), activations, pooling, the squeeze-excitation gating product, residual
  additions and biases are not counted. FLOPs are commonly quoted as ``2 * macs``.

Spatial sizes follow ``padding="same"``: a stride-``s`` layer maps ``n`` to ``ceil(n / s)``.
"""

from __future__ import annotations

from ferbench.model.counting import Cost, StageCost
from ferbench.model.counting import same_out as _out
from ferbench.model.efficientnetv2.arch import (
    ARCH,
    FUSED,
    STEM_KERNEL,
    STEM_STRIDES,
    BlockPlan,
    expand,
    variant,
)

__all__ = ["Cost", "StageCost", "model_cost"]

_BN = 4  # weights per channel of a BatchNormalization layer


def _conv(h: int, w: int, k: int, c_in: int, c_out: int) -> tuple[int, int]:
    """(params, macs) of a bias-free conv producing an ``h x w`` map."""
    return k * k * c_in * c_out, h * w * k * k * c_in * c_out


def _se(channels: int, squeeze: int) -> tuple[int, int]:
    """(params, macs) of squeeze-excitation: two 1x1 convs with bias on the pooled vector."""
    if squeeze == 0:
        return 0, 0
    params = channels * squeeze + squeeze + squeeze * channels + channels
    return params, 2 * channels * squeeze


def _block(b: BlockPlan, h: int, w: int) -> tuple[int, int, int, int]:
    """(params, macs, out_h, out_w) of one block on an ``h x w`` input."""
    ho, wo = _out(h, b.strides), _out(w, b.strides)
    cin, cexp, cout, k = b.input_filters, b.expanded_filters, b.output_filters, b.kernel_size
    params = macs = 0
    if b.kind == FUSED:
        if b.expand_ratio != 1:
            # Fused expansion: one kxk strided conv replaces expand 1x1 + depthwise.
            p, m = _conv(ho, wo, k, cin, cexp)
            params, macs = params + p + _BN * cexp, macs + m
        p, m = _se(cexp, b.se_filters)
        params, macs = params + p, macs + m
        # Project: 1x1 after an expansion, else the block's only (kxk, strided) conv.
        pk = 1 if b.expand_ratio != 1 else k
        p, m = _conv(ho, wo, pk, cexp, cout)
        params, macs = params + p + _BN * cout, macs + m
    else:
        if b.expand_ratio != 1:
            p, m = _conv(h, w, 1, cin, cexp)
            params, macs = params + p + _BN * cexp, macs + m
        # Depthwise kxk (strided): one filter per channel.
        params += k * k * cexp + _BN * cexp
        macs += ho * wo * k * k * cexp
        p, m = _se(cexp, b.se_filters)
        params, macs = params + p, macs + m
        p, m = _conv(ho, wo, 1, cexp, cout)
        params, macs = params + p + _BN * cout, macs + m
    return params, macs, ho, wo


def model_cost(
    *,
    input_shape: tuple[int, int, int],
    num_classes: int,
    stages: tuple[int, ...],
    width: float,
    depth: float,
    top_filters: int,
    arch: str = ARCH,
) -> Cost:
    """Parameters (as ``count_params()``) and MACs per image of the model ``build_model`` makes."""
    h, w, c = (int(v) for v in input_shape)
    plan = expand(stages=tuple(stages), width=width, depth=depth, top_filters=top_filters, arch=arch)
    head_stage = len(variant(arch).stages) + 1
    rows: list[StageCost] = []

    h, w = _out(h, STEM_STRIDES), _out(w, STEM_STRIDES)
    p, m = _conv(h, w, STEM_KERNEL, c, plan.stem_filters)
    rows.append(StageCost(0, "stem", 1, plan.stem_filters, h, p + _BN * plan.stem_filters, m))
    channels = plan.stem_filters

    for stage in plan.stages[1:]:
        blocks = plan.stage_blocks(stage)
        params = macs = 0
        for b in blocks:
            p, m, h, w = _block(b, h, w)
            params, macs = params + p, macs + m
        channels = blocks[-1].output_filters
        rows.append(StageCost(stage, blocks[0].kind, len(blocks), channels, h, params, macs))

    head = plan.head_filters
    p, m = _conv(h, w, 1, channels, head)
    params, macs = p + _BN * head, m
    params += head * num_classes + num_classes  # classifier Dense with bias
    macs += head * num_classes
    rows.append(StageCost(head_stage, "head", 1, head, h, params, macs))

    return Cost(params=sum(r.params for r in rows), macs=sum(r.macs for r in rows), stages=tuple(rows))
