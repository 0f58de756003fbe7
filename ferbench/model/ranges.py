"""Cost ranges over a search space, for every family: the smallest and largest model a spec can build.

Plain Python (no TensorFlow): ``validate`` and ``plan`` check constraints with it. Parameters
and MACs grow with every size hyperparameter (width, depth, head filters) in every family,
so the extremes are the corners of the searched ranges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from ferbench.model.counting import Cost
from ferbench.model.family import ModelConfigError
from ferbench.model.registry import family, family_cost, small_input_applies

if TYPE_CHECKING:  # only for annotations: the cost model needs nothing from the spec package at run time
    from ferbench.spec.search_types import SearchParam
    from ferbench.spec.types import ModelSpec

__all__ = ["arch_choices", "cost_range", "family_cost_range", "param_bounds", "searched_bounds"]

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


def _bounds(fixed: float | None, space: Iterable[SearchParam], name: str, default: float | None) -> tuple[float, float]:
    if fixed is not None:
        return fixed, fixed
    found = searched_bounds(space, name)
    if found is not None:
        return found
    if default is not None:
        return default, default
    raise ModelConfigError(f"model.{name} is neither set nor searched: set it in the spec's model section or add it to search.space")


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
    fam = family(arch)
    fixed: Mapping[str, float | None] = {k: getattr(model, k) for k in _SIZE_KEYS}
    bounds = {k: _bounds(fixed[k], space, k, fam.defaults.get(k)) for k in _SIZE_KEYS if k in fam.takes}
    corners = []
    for i in (0, 1):
        values = {k: (int(b[i]) if k == "top_filters" else b[i]) for k, b in bounds.items()}
        config = fam.config(model.stages, **values)
        if model.weights != "imagenet":  # as a trial builds it (ferbench.run.train.batchnorm.small_input)
            config = replace(config, small_input=small_input_applies(config, input_shape))
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
