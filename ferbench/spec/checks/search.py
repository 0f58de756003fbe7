"""Checks of the searched hyperparameters: kinds, ranges, steps, log scales, fixed or searched."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from ferbench.errors import Located
from ferbench.spec.checks.base import BOOL_PARAMS, INT_PARAMS, check, search_space
from ferbench.spec.compose import get_path
from ferbench.spec.schema import subschema
from ferbench.spec.types import (
    SEARCHABLE,
)
from ferbench.spec.yaml_loader import LocatedDoc


@check
def search_param_kind(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A parameter is exactly one of float, int or choices, and fits the key it sets."""
    for name, p in search_space(data).items():
        path = ("search", "space", name)
        kinds = [k for k in ("float", "int", "choices") if k in p]
        if len(kinds) != 1:
            yield doc.locate(path, f"give exactly one of float: [low, high], int: [low, high] or choices: [...], got {', '.join(kinds) or 'none'}")
        elif name in INT_PARAMS and kinds[0] == "float":
            yield doc.locate(path + ("float",), f"{name} is an integer: write int: [low, high]", key=True)
        elif name in BOOL_PARAMS and kinds[0] != "choices":
            yield doc.locate(path + (kinds[0],), f"{name} is true or false: write choices: [true, false]", key=True)
        elif kinds[0] == "choices" and ("step" in p or p.get("log")):
            yield doc.locate(path, "step and log apply to float and int ranges, not to choices")


@check
def search_range_order(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """low < high."""
    for name, p in search_space(data).items():
        for kind in ("float", "int"):
            if kind in p:
                low, high = p[kind]
                if not low < high:
                    yield doc.locate(("search", "space", name, kind), f"low must be < high, got {low} >= {high}")


@check
def search_step_fits(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A step divides the range (Optuna would silently shrink the high end otherwise)."""
    for name, p in search_space(data).items():
        step = p.get("step")
        if step is None or p.get("log"):  # log + step is its own error
            continue
        path = ("search", "space", name, "step")
        if "int" in p and float(step) != int(step):
            yield doc.locate(path, f"an int range needs an integer step, got {step}")
            continue
        for kind in ("float", "int"):
            if kind in p:
                low, high = p[kind]
                if high <= low:
                    continue
                n = (high - low) / step
                if step > high - low:
                    yield doc.locate(path, f"step {step} is larger than the range {low}..{high}")
                elif not math.isclose(n, round(n), rel_tol=0, abs_tol=1e-6):
                    fit = low + math.floor(n) * step
                    yield doc.locate(path, f"step {step} does not divide the range {low}..{high} ({n:.3g} steps); adjust high to {fit:.6g}")


@check
def search_log_scale(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Log scale takes no step and needs low > 0."""
    for name, p in search_space(data).items():
        if not p.get("log"):
            continue
        path = ("search", "space", name)
        if "step" in p:
            yield doc.locate(path + ("log",), "log scale with a step is not supported (Optuna refuses it); drop one", key=True)
        for kind in ("float", "int"):
            if kind in p and p[kind][0] <= 0:
                yield doc.locate(path + (kind,), f"log scale needs low > 0, got {p[kind][0]}")


@check
def searched_values_in_schema_range(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A searched range stays inside what the key accepts when fixed (e.g. dropout < 0.95)."""
    for name, p in search_space(data).items():
        key = SEARCHABLE.get(name)
        if name == "arch":  # names, not numbers: see arch_choices
            continue
        sub = subschema(tuple(key.split("."))) if key else None
        if not sub:
            continue
        values = list(p.get("float", p.get("int", []))) + list(p.get("choices", []))
        if sub.get("type") == "boolean":
            for v in values:
                if not isinstance(v, bool):
                    yield doc.locate(("search", "space", name), f"{name} takes true or false, got {v!r}")
            continue
        for v in values:
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                yield doc.locate(("search", "space", name), f"{name} takes numbers, got {v!r}")
                continue
            lo, hi = sub.get("minimum"), sub.get("maximum")
            xlo, xhi = sub.get("exclusiveMinimum"), sub.get("exclusiveMaximum")
            if (lo is not None and v < lo) or (hi is not None and v > hi) or (xlo is not None and v <= xlo) or (xhi is not None and v >= xhi):
                bounds = f"{'(' if xlo is not None else '['}{xlo if xlo is not None else lo}, {xhi if xhi is not None else hi}{')' if xhi is not None else ']'}"
                yield doc.locate(("search", "space", name), f"{name} value {v} is outside {bounds}")


@check
def fixed_and_searched(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A hyperparameter is either fixed in its section or searched, not both."""
    for name in search_space(data):
        key = SEARCHABLE[name]
        if get_path(data, key) is not None:
            m = doc.mark_for(("search", "space", name), key=True)
            why = f"{name} is both fixed here and searched in search.space (line {m.line}); remove one, or fix it with --set {key}=VALUE"
            yield doc.locate(tuple(key.split(".")), why)
