"""Phase two of validation: small named semantic checks, one rule each.

Each check takes the schema-valid, default-filled spec data and its positions and
yields located problems. Checks never repeat what the schema already enforces.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from typing import Any

from ferbench.data.kinds import KINDS
from ferbench.errors import Located
from ferbench.model.family import MODEL_HYPERPARAMETERS, Family
from ferbench.model.registry import CUSTOM, FAMILIES
from ferbench.spec.compose import get_path
from ferbench.spec.schema import subschema, suggest
from ferbench.spec.types import (
    SEARCHABLE,
    SPLIT_ALIASES,
    SPLIT_JOINS,
    SPLITS,
    STATIC_COSTS,
    VALIDATION_METRICS,
    default_direction,
    split_overlap_fix,
)
from ferbench.spec.yaml_loader import LocatedDoc

Check = Callable[[dict[str, Any], LocatedDoc], Iterator[Located]]
CHECKS: list[Check] = []

INT_PARAMS = {"top_filters", "batch_size", "warmup_epochs", "lr_step_epochs", "lr_patience"}
#: Searched values that are booleans (searched as choices: [true, false]).
BOOL_PARAMS = {"nesterov"}
#: The options of the nsga2 sampler (refused on the others).
NSGA2_OPTIONS = ("population_size", "crossover_prob", "swapping_prob")


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


def _space(data: dict[str, Any]) -> dict[str, Any]:
    return get_path(data, "search.space", {}) or {}


def _dataset_blocks(data: dict[str, Any]) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """The spec's dataset and every extra test set's (``evaluate.on[i].dataset``), with their paths."""
    ds = data.get("dataset")
    if isinstance(ds, dict):
        yield ("dataset",), ds
    for i, entry in enumerate(get_path(data, "evaluate.on", []) or []):
        if isinstance(entry, dict) and isinstance(entry.get("dataset"), dict):
            yield ("evaluate", "on", i, "dataset"), entry["dataset"]


@check
def search_param_kind(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A parameter is exactly one of float, int or choices, and fits the key it sets."""
    for name, p in _space(data).items():
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
    for name, p in _space(data).items():
        for kind in ("float", "int"):
            if kind in p:
                low, high = p[kind]
                if not low < high:
                    yield doc.locate(("search", "space", name, kind), f"low must be < high, got {low} >= {high}")


@check
def search_step_fits(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A step divides the range (Optuna would silently shrink the high end otherwise)."""
    for name, p in _space(data).items():
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
    for name, p in _space(data).items():
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
    for name, p in _space(data).items():
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
    for name in _space(data):
        key = SEARCHABLE[name]
        if get_path(data, key) is not None:
            m = doc.mark_for(("search", "space", name), key=True)
            why = f"{name} is both fixed here and searched in search.space (line {m.line}); remove one, or fix it with --set {key}=VALUE"
            yield doc.locate(tuple(key.split(".")), why)


def _archs(data: dict[str, Any]) -> tuple[list[str], tuple[str, ...]]:
    """The architectures a spec (or one matrix cell) can build, and where to point at them."""
    searched = _space(data).get("arch")
    if isinstance(searched, dict):
        return [str(c) for c in searched.get("choices") or []], ("search", "space", "arch")
    arch = get_path(data, "model.arch")
    return ([str(arch)] if arch is not None else []), ("model", "arch")


def _families(data: dict[str, Any]) -> list[Family]:
    return [FAMILIES[a] for a in _archs(data)[0] if a in FAMILIES]


@check
def arch_choices(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A searched architecture is a list of choices of known architectures."""
    p = _space(data).get("arch")
    if not isinstance(p, dict):
        return
    if "choices" not in p:
        yield doc.locate(("search", "space", "arch"), "arch is searched as choices: [...] of architectures (see `ferbench model list`)")
        return
    known = (*FAMILIES, CUSTOM)
    for i, c in enumerate(p["choices"]):
        if c not in known:
            yield doc.locate(("search", "space", "arch", "choices", i), f"unknown architecture {c!r}{suggest(str(c), list(known))}; known: {', '.join(known)}")


@check
def stages_prefix(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Kept stages are a prefix 0..k of the family's stages (every family truncates the same way)."""
    stages = get_path(data, "model.stages")
    if not isinstance(stages, list):
        return
    archs, _ = _archs(data)
    if CUSTOM in archs:
        yield doc.locate(("model", "stages"), "a custom builder has no stages to keep; remove model.stages")
        return
    fams = _families(data)
    n = min((len(f.stages) for f in fams), default=0)
    upto = f"0..{n - 1}" if n else "the family's stages"
    if stages != list(range(len(stages))):
        want = list(range(max(len(stages), 1)))
        yield doc.locate(("model", "stages"), f"kept stages must be a prefix of {upto} starting at 0 in order, e.g. {want}; got {stages}")
        return
    for fam in fams:
        if len(stages) > len(fam.stages):
            yield doc.locate(("model", "stages"), f"{fam.name} has stages 0..{len(fam.stages) - 1} (and its head); got {stages}")


@check
def family_hyperparameters(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A model hyperparameter, fixed or searched, belongs to the architecture (to one of the searched ones)."""
    archs, _ = _archs(data)
    fams = _families(data)
    if not fams or CUSTOM in archs:
        return  # a custom builder takes what the spec gives it
    space = _space(data)
    for name in MODEL_HYPERPARAMETERS:
        if any(name in f.takes for f in fams):
            continue
        if len(fams) == 1:
            why = fams[0].lacks(name)
        else:
            why = f"model.{name}: none of {', '.join(f.name for f in fams)} has {name}"
        if name in space:
            yield doc.locate(("search", "space", name), why.split(": ", 1)[1] + "; remove it from search.space", key=True)
        elif get_path(data, f"model.{name}") is not None:
            yield doc.locate(("model", name), why.split(": ", 1)[1] + f"; remove model.{name}")


@check
def custom_builder(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """arch custom needs model.builder; model.builder and model.params belong to arch custom."""
    archs, where = _archs(data)
    if not archs:
        return
    if CUSTOM in archs and not get_path(data, "model.builder"):
        yield doc.locate(where, "arch custom needs model.builder: \"package.module:function\" (a Keras builder taking input_shape, num_classes, **params)")
    if CUSTOM not in archs:
        for key in ("builder", "params"):
            if get_path(data, f"model.{key}") is not None:
                yield doc.locate(("model", key), f"model.{key} belongs to arch custom; {', '.join(archs)} is built from its table")


@check
def weights_source(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """imagenet only where Keras has ImageNet weights; a file is a .keras or .weights.h5 file (a warning when absent)."""
    weights = get_path(data, "model.weights")
    if weights is None or weights == "none":
        return
    archs, _ = _archs(data)
    if weights == "imagenet":
        for a in archs:
            fam = FAMILIES.get(a)
            if fam is None or fam.imagenet is None:
                have = ", ".join(f.name for f in FAMILIES.values() if f.imagenet)
                yield doc.locate(("model", "weights"), f"Keras has no ImageNet weights for {a} (it has them for {have}); use none or a weights file")
        return
    if not (str(weights).endswith(".keras") or str(weights).endswith(".weights.h5")):
        yield doc.locate(("model", "weights"), f"give none, imagenet, or a .keras or .weights.h5 file; got {weights!r}")
    elif not os.path.isfile(os.path.expanduser(str(weights))):
        yield doc.locate(("model", "weights"), f"{weights} does not exist (yet); the run needs it", warning=True)


@check
def freeze_needs_weights(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Freezing fine-tunes loaded weights: it needs model.weights, a registered family, fewer epochs than max_epochs and
    a schedule that leaves its learning rate alone (constant, or plateau, without warm-up)."""
    freeze = get_path(data, "train.freeze")
    if not isinstance(freeze, dict):
        return
    weights = get_path(data, "model.weights")
    if weights is None or weights == "none":
        yield doc.locate(("train", "freeze"), "freezing trains the head on top of loaded weights: set model.weights (imagenet or a file), "
                                              "or remove train.freeze")
    if CUSTOM in _archs(data)[0]:
        yield doc.locate(("train", "freeze"), "a custom builder has no head stage to train alone; remove train.freeze")
    epochs, most = freeze.get("epochs"), get_path(data, "train.max_epochs")
    if isinstance(epochs, int) and isinstance(most, int) and epochs >= most:
        yield doc.locate(("train", "freeze", "epochs"), f"the head alone for {epochs} epochs leaves none of train.max_epochs ({most}) to fine-tune")
    schedule = get_path(data, "train.schedule")
    if isinstance(schedule, dict) and (schedule.get("name", "constant") in ("cosine", "step") or schedule.get("warmup_epochs")):
        yield doc.locate(("train", "schedule"), "train.freeze fine-tunes at its own learning_rate, which a cosine or step schedule or a "
                                                "warm-up would override each epoch: use schedule constant or plateau without warm-up, "
                                                "or remove train.freeze")


@check
def classes_known(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Classes are unique and available from the dataset kind (the spec's dataset and every extra test set's)."""
    for at, ds in _dataset_blocks(data):
        classes = ds.get("classes", [])
        seen: set[str] = set()
        for i, c in enumerate(classes):
            if c in seen:
                yield doc.locate(at + ("classes", i), f"class {c!r} is listed twice")
            seen.add(c)
        kind = KINDS.get(ds.get("kind", ""))
        if kind is None:  # the schema names the kinds
            continue
        relabelled = bool(ds.get("labels")) and kind.relabelled_classes is not None
        known = kind.known_classes(relabelled)
        for i, c in enumerate(classes):
            if c not in known:
                hint = ""
                if not relabelled and kind.relabelled_classes is not None and c in kind.relabelled_classes:
                    hint = f"; {c} needs FER+ labels (dataset.labels)"
                yield doc.locate(at + ("classes", i), f"class {c!r} does not exist in {kind.name} (it has {', '.join(known)}){hint}")


@check
def dataset_path_needed(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Every source but the built-in synthetic faces needs a path; FER+ labels only for FER2013."""
    for at, ds in _dataset_blocks(data):
        kind = KINDS.get(ds.get("kind", ""))
        if kind is None:  # the schema names the kinds
            continue
        if kind.needs_path and not ds.get("path"):
            yield doc.locate(at, f"missing required key 'path' for kind {kind.name} (a file or folder; ${{FERBENCH_DATA}}/... works)")
        if ds.get("labels") and kind.relabelled_classes is None:
            takers = ", ".join(k.name for k in KINDS.values() if k.relabelled_classes is not None)
            yield doc.locate(at + ("labels",), f"FER+ labels (labels) apply to kind {takers} only")


def _source_splits(ref: str) -> set[str]:
    """The source splits a named split can mean, lower case, aliases and joins included."""
    out: set[str] = set()
    for part in ref.split("+"):
        low = part.strip().lower()
        names = next((set(g) for g in SPLIT_ALIASES if low in g), {low})
        out |= names
        for name in names:
            out |= set(SPLIT_JOINS.get(name, ()))
    return out


@check
def splits_distinct(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Two named splits never mean the same source split (loading refuses shared samples too).

    Validation equal to test would choose the best trial on the data it is scored on.
    """
    for at, ds in _dataset_blocks(data):
        splits = ds.get("splits") or {}
        named = [(k, splits[k]) for k in SPLITS if isinstance(splits.get(k), str)]
        for i, (a, ra) in enumerate(named):
            for b, rb in named[i + 1 :]:
                if not _source_splits(ra) & _source_splits(rb):
                    continue
                where = "validation" if "validation" in (a, b) else b
                same = f"are the same split ({ra!r})" if ra.strip().lower() == rb.strip().lower() else f"overlap ({ra!r} and {rb!r})"
                yield doc.locate(at + ("splits", where), f"{a} and {b} {same}: {split_overlap_fix(a, b)}")
        for name, s in splits.items():
            if isinstance(s, dict) and s.get("from") == name:
                yield doc.locate(at + ("splits", name, "from"), f"split {name} cannot be derived from itself")


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
    from ferbench.errors import FerbenchError
    from ferbench.model.cost import cost_range
    from ferbench.spec.build import _param
    from ferbench.spec.types import ModelSpec

    m, ds = data.get("model") or {}, data.get("dataset") or {}
    try:
        model = ModelSpec(arch=m["arch"], stages=tuple(m["stages"]), width=m.get("width"), depth=m.get("depth"),
                          dropout=m.get("dropout"), top_filters=m.get("top_filters"), drop_connect=m.get("drop_connect"))
        space = tuple(_param(n, p) for n, p in (get_path(data, "search.space", {}) or {}).items())
        channels = 1 if ds.get("color") == "grayscale" else 3
        shape = (int(ds["image_size"]), int(ds["image_size"]), channels)
        return cost_range(model, space, shape, len(ds["classes"]))[0]
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
        for pname, p in _space(data).items():
            if "choices" not in p and "step" not in p:
                yield doc.locate(("search", "space", pname), "the grid sampler needs choices or a step for every parameter")


@check
def runtime_consistent(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Determinism and XLA do not mix; devices: cpu runs float32."""
    rt = data.get("runtime", {})
    if rt.get("deterministic") and rt.get("jit_compile") is True:
        yield doc.locate(("runtime", "jit_compile"), "deterministic: true turns XLA off; set jit_compile: auto or false")
    if rt.get("devices") == "cpu" and rt.get("precision") in ("mixed_float16", "mixed_bfloat16"):
        yield doc.locate(("runtime", "precision"), f"{rt['precision']} needs a GPU; devices is cpu", warning=True)


@check
def matrix_keys_real(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Matrix keys are real spec paths (values are checked when each cell is validated)."""
    for key in data.get("matrix", {}) or {}:
        parts = tuple(key.split("."))
        if parts[0] in ("matrix", "extends", "name", "ferbench"):
            yield doc.locate(("matrix", key), f"{key} cannot vary in a matrix", key=True)
            continue
        sub = subschema(parts)
        if sub is None:
            parent = subschema(parts[:-1]) or {}
            hint = suggest(parts[-1], list(parent.get("properties", {}))) if parent else ""
            yield doc.locate(("matrix", key), f"{key} is not a spec path{hint}", key=True)


@check
def baselines_known(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """``report.compare`` names baselines that exist in the built-in registry."""
    compare = get_path(data, "report.compare", []) or []
    if not compare:
        return
    from ferbench.baselines_registry import baseline_ids

    ids = baseline_ids()
    for i, b in enumerate(compare):
        if b not in ids:
            hint = suggest(b, ids) or f"; known: {', '.join(ids)}"
            yield doc.locate(("report", "compare", i), f"unknown baseline {b!r}{hint}")


#: Which optimizer uses which of the recipe's values.
OPTIMIZER_VALUES: dict[str, tuple[str, ...]] = {"adam": (), "adamw": ("weight_decay",), "sgd": ("momentum", "nesterov", "weight_decay")}
#: Which schedule uses which of ``train.schedule``'s values (warm-up applies to all).
SCHEDULE_VALUES: dict[str, tuple[str, ...]] = {
    "constant": (), "cosine": ("alpha",), "step": ("step_epochs", "factor"),
    "plateau": ("factor", "patience", "monitor", "min_delta", "cooldown", "min_learning_rate"),
}


def _no_effect(data: dict[str, Any], doc: LocatedDoc, key: str, where: str) -> Iterator[Located]:
    """A value the optimizer or schedule does not use: an error when searched (wasted trials), a warning when fixed."""
    by_key = {v: k for k, v in SEARCHABLE.items()}
    name = by_key.get(key)
    if name is not None and name in _space(data):
        yield doc.locate(("search", "space", name), f"{name} sets {key}, which {where} does not use: searching it wastes trials", key=True)
    elif tuple(key.split(".")) in doc.key_marks:
        yield doc.locate(tuple(key.split(".")), f"{where} does not use it; it has no effect", key=True, warning=True)


@check
def recipe_values_apply(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """momentum and nesterov are SGD's, weight decay AdamW's and SGD's; each schedule has its own values."""
    opt = get_path(data, "train.optimizer", "adam") or "adam"
    for key in ("momentum", "nesterov", "weight_decay"):
        if key not in OPTIMIZER_VALUES.get(opt, ()):
            yield from _no_effect(data, doc, f"train.{key}", f"optimizer {opt}")
    schedule = get_path(data, "train.schedule")
    name = schedule.get("name", "constant") if isinstance(schedule, dict) else "constant"
    used = SCHEDULE_VALUES.get(name, ())
    for key in ("alpha", "step_epochs", "factor", "patience", "monitor", "min_delta", "cooldown", "min_learning_rate"):
        if key not in used:
            yield from _no_effect(data, doc, f"train.schedule.{key}", f"schedule {name}")
    warmup, epochs = get_path(data, "train.schedule.warmup_epochs"), get_path(data, "train.max_epochs")
    if isinstance(warmup, int) and isinstance(epochs, int) and warmup >= epochs:
        yield doc.locate(("train", "schedule", "warmup_epochs"),
                         f"{warmup} warm-up epochs leave none of the {epochs} epochs (train.max_epochs) at the full learning rate")


@check
def folds_consistent(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """k-fold: a fold needs folds and lies in 1..folds; the folds split train + validation, so test is a named split of its own."""
    for at, ds in _dataset_blocks(data):
        folds, fold = ds.get("folds"), ds.get("fold")
        if at != ("dataset",):
            for key in ("folds", "fold"):
                if ds.get(key) is not None:
                    yield doc.locate(at + (key,), "an extra test set is scored whole; folds apply to the spec's own dataset", key=True)
            continue
        if fold is not None and folds is None:
            yield doc.locate(at + ("fold",), "a fold needs dataset.folds (the number of folds)", key=True)
        elif fold is not None and folds is not None and fold > folds:
            yield doc.locate(at + ("fold",), f"fold {fold} does not exist: folds are 1..{folds}")
        if folds is None:
            continue
        splits = ds.get("splits") or {}
        test, validation = splits.get("test"), splits.get("validation")
        if isinstance(test, dict):
            yield doc.locate(at + ("splits", "test"), "with dataset.folds the folds split train + validation; give test a named split of its own")
        if isinstance(validation, dict) and validation.get("from") != "train":
            yield doc.locate(at + ("splits", "validation", "from"), "with dataset.folds, validation is named or carved from train")


@check
def cross_sets_fit(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Extra test sets have unique names, the model's input and classes that map onto the model's."""
    from ferbench.data.classmap import ClassMappingError, map_classes

    main = data.get("dataset") or {}
    seen: dict[str, int] = {}
    for i, entry in enumerate(get_path(data, "evaluate.on", []) or []):
        if not isinstance(entry, dict):
            continue
        at: tuple[str | int, ...] = ("evaluate", "on", i)
        name = entry.get("name")
        if name in seen:
            yield doc.locate(at + ("name",), f"{name!r} is already the name of evaluate.on[{seen[name]}]; names are unique")
        elif isinstance(name, str):
            seen[name] = i
        ds = entry.get("dataset")
        if not isinstance(ds, dict):
            continue
        for key in ("image_size", "color"):
            if key in ds and key in main and ds[key] != main[key]:
                yield doc.locate(at + ("dataset", key), f"the model takes {main[key]} (dataset.{key}); an extra test set is read "
                                                        f"at the model's input, so leave it out or write {main[key]}")
        try:
            map_classes(main.get("classes") or [], ds.get("classes") or [])
        except ClassMappingError as exc:
            yield doc.locate(at + ("dataset", "classes"), str(exc))


def semantic_problems(data: dict[str, Any], doc: LocatedDoc) -> list[Located]:
    out: list[Located] = []
    for fn in CHECKS:
        out.extend(fn(data, doc))
    return out
