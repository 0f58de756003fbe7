"""Parameters and multiply-accumulates of the scaled EfficientNetV2, without TensorFlow; cost ranges of every family.

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

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ferbench.model.arch import (
    ARCH,
    FUSED,
    STEM_KERNEL,
    STEM_STRIDES,
    BlockPlan,
    ModelConfigError,
    expand,
    variant,
)
from ferbench.model.counting import Cost, StageCost
from ferbench.model.counting import same_out as _out

if TYPE_CHECKING:  # only for annotations: the cost model needs nothing from the spec package at run time
    from ferbench.spec.types import ModelSpec, SearchParam

__all__ = ["Cost", "StageCost", "cost_range", "model_cost", "param_bounds"]

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


def searched_bounds(space: Iterable[SearchParam], name: str) -> tuple[float, float] | None:
    """(smallest, largest) value of a searched hyperparameter, ``None`` when it is not searched."""
    for p in space:
        if p.key == f"model.{name}" or p.name == name:
            return param_bounds(p)
    return None


def _bounds(fixed: Any, space: Iterable[SearchParam], name: str, default: Any) -> tuple[float, float]:
    if fixed is not None:
        return fixed, fixed
    found = searched_bounds(space, name)
    if found is not None:
        return found
    if default is not None:
        return default, default
    raise ModelConfigError(f"model.{name} is neither set nor searched: set it (e.g. --set model.{name}=...) or add it to search.space")


#: The hyperparameters every count grows with (where the family has them).
_SIZE_KEYS = ("width", "depth", "top_filters")


def arch_choices(model: ModelSpec, space: Iterable[SearchParam]) -> tuple[str, ...]:
    """The architectures a spec can build: the fixed one, or the searched choices."""
    for p in space:
        if p.name == "arch":
            return tuple(str(c) for c in p.choices or ())
    return (model.arch,) if model.arch else ()


def family_cost_range(arch: str, model: ModelSpec, space: tuple[SearchParam, ...],
                      input_shape: tuple[int, int, int], num_classes: int) -> tuple[Cost, Cost]:
    """(smallest, largest) cost of one family over the search space (values fixed in ``model`` as they are)."""
    from ferbench.model.registry import family, family_cost

    fam = family(arch)
    fixed: Mapping[str, Any] = {k: getattr(model, k) for k in _SIZE_KEYS}
    bounds = {k: _bounds(fixed[k], space, k, fam.defaults.get(k)) for k in _SIZE_KEYS if k in fam.takes}
    corners = []
    for i in (0, 1):
        values = {k: (int(b[i]) if k == "top_filters" else b[i]) for k, b in bounds.items()}
        config = fam.config(model.stages, **values)
        corners.append(family_cost(config, input_shape, num_classes))
    return corners[0], corners[1]


def cost_range(
    model: ModelSpec,
    space: tuple[SearchParam, ...],
    input_shape: tuple[int, int, int],
    num_classes: int,
) -> tuple[Cost, Cost]:
    """(smallest, largest) cost over the search space, over every architecture it can build.

    Parameters and MACs never decrease as width, depth or head filters grow (every
    rounded width and repeat count is monotone), so the extremes of a family are the
    all-low and all-high corners; with a searched architecture, the smallest and largest
    of those over the choices. Values fixed in ``model`` are used as they are. A custom
    builder's cost is unknown before it is built (:class:`ModelConfigError`).
    """
    choices = arch_choices(model, space)
    if not choices or "custom" in choices:
        raise ModelConfigError("the cost of a custom builder is known only once it is built")
    ranges = [family_cost_range(a, model, space, input_shape, num_classes) for a in choices]
    small = min((r[0] for r in ranges), key=lambda c: (c.params, c.macs))
    large = max((r[1] for r in ranges), key=lambda c: (c.params, c.macs))
    return small, large
