"""Parameters and multiply-accumulates of the scaled EfficientNetV2-S, without TensorFlow.

Counting conventions (see ``docs/model.md``):

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

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from ferbench.model.arch import (
    FUSED,
    HEAD_STAGE,
    STEM_KERNEL,
    STEM_STRIDES,
    BlockPlan,
    ModelConfigError,
    expand,
)

if TYPE_CHECKING:  # only for annotations: the cost model needs nothing from the spec package at run time
    from ferbench.spec.types import ModelSpec, SearchParam

_BN = 4  # weights per channel of a BatchNormalization layer


@dataclass(frozen=True)
class StageCost:
    """One row of the per-stage table: stem (0), blocks stages (1-6) or head (7)."""

    stage: int
    kind: str  # "stem" | "fused_mbconv" | "mbconv" | "head"
    repeats: int
    channels: int  # output channels (the head conv's width for the head)
    output_size: int  # output feature-map height (= width for square inputs); the head reports the map it pools
    params: int
    macs: int


@dataclass(frozen=True)
class Cost:
    """Totals and the per-stage breakdown; ``params`` and ``macs`` are the sums over ``stages``."""

    params: int
    macs: int
    stages: tuple[StageCost, ...]

    @property
    def flops(self) -> int:
        """``2 * macs``, the usual "FLOPs" figure."""
        return 2 * self.macs


def _out(n: int, strides: int) -> int:
    return math.ceil(n / strides)


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
) -> Cost:
    """Parameters (as ``count_params()``) and MACs per image of the model ``build_model`` makes."""
    h, w, c = (int(v) for v in input_shape)
    plan = expand(stages=tuple(stages), width=width, depth=depth, top_filters=top_filters)
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
    rows.append(StageCost(HEAD_STAGE, "head", 1, head, h, params, macs))

    return Cost(params=sum(r.params for r in rows), macs=sum(r.macs for r in rows), stages=tuple(rows))


# --- ranges over a search space ---------------------------------------------------------

_COST_KEYS = ("width", "depth", "top_filters")


def _top_of_range(p: SearchParam) -> float:
    """The largest value a sampler can return for a stepped range (Optuna's adjusted high)."""
    assert p.low is not None and p.high is not None
    if p.step is None:
        return p.high
    if p.kind == "int":
        low, high, step = int(p.low), int(p.high), int(p.step)
        return (high - low) // step * step + low
    # Decimal, like Optuna, so that 0.2 + 24 * 0.05 gives 1.4 and not 1.4000000000000001.
    d_low, d_high, d_step = Decimal(str(p.low)), Decimal(str(p.high)), Decimal(str(p.step))
    return float((d_high - d_low) // d_step * d_step + d_low)


def param_bounds(p: SearchParam) -> tuple[float, float]:
    """(smallest, largest) value a search parameter can take."""
    if p.choices is not None:
        values = [v for v in p.choices if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if not values:
            raise ModelConfigError(f"search.space.{p.name}: choices must be numbers, got {list(p.choices)}")
        return min(values), max(values)
    if p.low is None or p.high is None:
        raise ModelConfigError(f"search.space.{p.name}: needs low and high or choices")
    return p.low, _top_of_range(p)


def _bounds(model: ModelSpec, space: Iterable[SearchParam], name: str) -> tuple[float, float]:
    fixed = getattr(model, name)
    if fixed is not None:
        return fixed, fixed
    for p in space:
        if p.key == f"model.{name}" or p.name == name:
            return param_bounds(p)
    raise ModelConfigError(f"model.{name} is neither set nor searched: set it (e.g. --set model.{name}=...) or add it to search.space")


def cost_range(
    model: ModelSpec,
    space: tuple[SearchParam, ...],
    input_shape: tuple[int, int, int],
    num_classes: int,
) -> tuple[Cost, Cost]:
    """(smallest, largest) cost over the search space.

    Parameters and MACs never decrease as width, depth or head filters grow (every
    rounded width and repeat count is monotone), so the extremes are the all-low and
    all-high corners. Values fixed in ``model`` are used as they are.
    """
    bounds = {name: _bounds(model, space, name) for name in _COST_KEYS}
    corners = []
    for i in (0, 1):
        corners.append(
            model_cost(
                input_shape=input_shape,
                num_classes=num_classes,
                stages=model.stages,
                width=bounds["width"][i],
                depth=bounds["depth"][i],
                top_filters=int(bounds["top_filters"][i]),
            )
        )
    return corners[0], corners[1]
