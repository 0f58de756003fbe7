"""Checks of what a search optimises: objectives and their directions, bounds, latency, sampler options."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ferbench.errors import Located
from ferbench.spec.checks.base import NSGA2_OPTIONS, check, search_space
from ferbench.spec.compose import get_path
from ferbench.spec.search_types import STATIC_COSTS, VALIDATION_METRICS, default_direction
from ferbench.spec.yaml_loader import LocatedDoc


@check
def objective_direction(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """val_loss and the costs are minimised, accuracy and F1 maximised."""
    objectives: list[tuple[tuple[str | int, ...], Any]] = [(("search", "objective"), get_path(data, "search.objective"))]
    objectives += [(("search", "objectives", i), o) for i, o in enumerate(get_path(data, "search.objectives") or [])]
    for at, obj in objectives:
        if not isinstance(obj, dict) or "metric" not in obj:
            continue
        want = default_direction(obj["metric"])
        if obj.get("direction") not in (None, want):
            yield doc.locate(at + ("direction",), f"{obj.get('metric')} should be {want}d, got {obj['direction']}")


@check
def objectives_consistent(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """search.objectives replaces search.objective; each metric once; at least one validation metric."""
    objectives = get_path(data, "search.objectives")
    if not objectives:
        return
    if ("search", "objective") in doc.key_marks:
        yield doc.locate(("search", "objective"), "give search.objective (one metric) or search.objectives (a list), not both", key=True)
    seen: dict[str, int] = {}
    for i, obj in enumerate(objectives):
        metric = obj.get("metric") if isinstance(obj, dict) else None
        if metric in seen:
            yield doc.locate(("search", "objectives", i, "metric"), f"{metric} is already objective {seen[metric]}; each metric once")
        elif isinstance(metric, str):
            seen[metric] = i
    if seen and not any(m in VALIDATION_METRICS for m in seen):
        yield doc.locate(("search", "objectives"), f"add a validation metric ({', '.join(VALIDATION_METRICS)}): costs alone say nothing "
                                                   "of how well a model recognises expressions, and the best trial is chosen on it")


@check
def multi_objective_search(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Several objectives: a sampler that handles them, and no pruner (Optuna prunes single-objective studies only)."""
    objectives = get_path(data, "search.objectives") or []
    if len(objectives) < 2:
        return
    sampler = get_path(data, "search.sampler.name")
    if sampler == "cmaes":
        yield doc.locate(("search", "sampler", "name"), "cmaes optimises one objective; with search.objectives use tpe, nsga2, random, qmc or grid")
    pruner = get_path(data, "search.pruner.name")
    if pruner not in (None, "none"):
        yield doc.locate(("search", "pruner", "name"), f"pruner {pruner} needs one objective (Optuna does not prune multi-objective "
                                                      "studies); set pruner: {name: none}")


@check
def latency_measured_alone(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A latency objective or bound on a CPU shared by several local workers measures their contention too."""
    uses: list[tuple[str | int, ...]] = [("search", "constraints", "latency_ms")] if get_path(data, "search.constraints.latency_ms") else []
    uses += [("search", "objectives", i) for i, o in enumerate(get_path(data, "search.objectives") or [])
             if isinstance(o, dict) and o.get("metric") == "latency_ms"]
    workers = get_path(data, "runtime.workers")
    if uses and get_path(data, "runtime.devices") == "cpu" and isinstance(workers, int) and workers > 1:
        yield doc.locate(uses[0], f"latency is measured on the CPU while {workers - 1} other worker(s) train on it: "
                                  "the numbers include their load; use runtime.workers: 1 for latency", warning=True)


@check
def constraints_reachable(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A bound on parameters or MACs that even the smallest model of the search space exceeds leaves no trial to train."""
    bounds = get_path(data, "search.constraints") or {}
    static = {m: bounds[m]["max"] for m in STATIC_COSTS if isinstance(bounds.get(m), dict) and "max" in bounds[m]}
    if not static:
        return
    smallest = _smallest_cost(data)
    if smallest is None:
        return
    for metric, bound in static.items():
        value = getattr(smallest, metric)
        if value > bound:
            what = "parameters" if metric == "params" else "MACs"
            yield doc.locate(("search", "constraints", metric, "max"),
                             f"the smallest model of the search space has {value:,} {what}, above this bound of {bound:,}: "
                             f"no trial could train; raise the bound or search smaller models")


def _smallest_cost(data: dict[str, Any]) -> Any:
    """The cost model's smallest model over the search space, or ``None`` where it cannot say (another check reports why)."""
    extremes = _cost_extremes(data)
    return None if extremes is None else extremes[0]


#: A model this large is a typo (width: 100 for 1.00), not a FER benchmark.
HUGE_PARAMS = 1_000_000_000


@check
def huge_model(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A warning when the cost model's largest model of the spec has a billion parameters or more."""
    extremes = _cost_extremes(data)
    if extremes is not None and extremes[1].params >= HUGE_PARAMS:
        yield doc.locate(("model",), f"the largest model this spec plans has {extremes[1].params / 1e9:,.1f} billion parameters "
                         "(cost model); check model.width, model.depth, model.top_filters and their search ranges", warning=True)


def _cost_extremes(data: dict[str, Any]) -> Any:
    """``(smallest, largest)`` cost over the search space, or ``None`` where the cost model cannot say."""
    from ferbench.errors import FerbenchError
    from ferbench.model.ranges import cost_range
    from ferbench.spec.build import search_param
    from ferbench.spec.types import ModelSpec

    m, ds = data.get("model") or {}, data.get("dataset") or {}
    try:
        stages = None if m.get("stages") is None else tuple(m["stages"])  # both left open where the architecture is searched
        model = ModelSpec(arch=m.get("arch"), stages=stages, width=m.get("width"), depth=m.get("depth"),
                          dropout=m.get("dropout"), top_filters=m.get("top_filters"), drop_connect=m.get("drop_connect"))
        space = tuple(search_param(n, p) for n, p in (get_path(data, "search.space", {}) or {}).items())
        channels = 1 if ds.get("color") == "grayscale" else 3
        shape = (int(ds["image_size"]), int(ds["image_size"]), channels)
        return cost_range(model, space, shape, len(ds["classes"]))
    except (FerbenchError, KeyError, TypeError, ValueError):
        return None


@check
def sampler_options(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """TPE-only options are refused on other samplers; grid needs a finite space."""
    s = get_path(data, "search.sampler", {}) or {}
    name = s.get("name")
    if name != "tpe":
        for opt in ("multivariate", "group", "constant_liar", "n_ei_candidates", "consider_endpoints"):
            if ("search", "sampler", opt) in doc.key_marks:  # written by the user, not a default
                yield doc.locate(("search", "sampler", opt), f"{opt} is a TPE option; sampler {name} does not take it", key=True)
    if name != "nsga2":
        for opt in NSGA2_OPTIONS:
            if s.get(opt) is not None:
                yield doc.locate(("search", "sampler", opt), f"{opt} is an NSGA-II option; sampler {name} does not take it", key=True)
    if s.get("group") and not s.get("multivariate"):
        yield doc.locate(("search", "sampler", "group"), "group needs multivariate: true")
    if name == "grid":
        for pname, p in search_space(data).items():
            if "choices" not in p and "step" not in p:
                yield doc.locate(("search", "space", pname), "the grid sampler needs choices or a step for every parameter")
