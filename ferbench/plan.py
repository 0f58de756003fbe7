"""The planner: a spec expands into runs, purely and deterministically (no TensorFlow).

Same spec, same plan, same run ids: a run id is the hash of the run's resolved content,
leaving out what only says where and how it runs (results folder, devices, workers,
storage), so the same experiment resumes wherever it is started.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ferbench.devices import device_slots, worker_assignment
from ferbench.errors import FerbenchError
from ferbench.results.paths import STUDY_DB, STUDY_JOURNAL
from ferbench.secrets import hide_password, remember, storage_problem
from ferbench.spec.loader import json_safe, matrix_cells, spec_for_cell
from ferbench.spec.types import Spec

#: Keys that do not change what is computed, only where/how: left out of the run id.
_PLACEMENT_KEYS = ("results", "description", "report", "extends", "tracking")
_PLACEMENT_RUNTIME = ("devices", "workers", "storage", "memory_mb")


def _neutral_defaults() -> dict[tuple[str, ...], Any]:
    """Sections added to the spec language after run ids existed, with their filled defaults.

    A spec that states one of them at its default means what the spec without it
    means, so both hash alike: adding a key to the language never changes a run id.
    """
    from ferbench.spec.schema import fill_defaults, load_schema

    defs = load_schema()["$defs"]
    ds = defs["dataset"]["properties"]
    return {
        ("evaluate",): fill_defaults({}, defs["evaluate"]), ("train", "schedule"): fill_defaults({}, defs["schedule"]),
        ("dataset", "min_confidence"): ds["min_confidence"]["default"], ("dataset", "ckplus"): fill_defaults({}, ds["ckplus"]),
        ("dataset", "exclude_near_duplicates"): ds["exclude_near_duplicates"]["default"],
        ("dataset", "labels_mode"): ds["labels_mode"]["default"],
    }


def spec_hash(raw: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a resolved run spec, placement keys and neutral defaults left out."""
    data = {k: v for k, v in json_safe(raw).items() if k not in _PLACEMENT_KEYS}
    data["runtime"] = {k: v for k, v in data.get("runtime", {}).items() if k not in _PLACEMENT_RUNTIME}
    for path, default in _neutral_defaults().items():
        parent: dict[str, Any] = data
        for part in path[:-1]:
            child = parent.get(part)
            parent = child if isinstance(child, dict) else {}
        if parent.get(path[-1], default) == default:
            parent.pop(path[-1], None)
    for key in ("folds", "fold"):  # absent and null mean no folds
        if isinstance(data.get("dataset"), dict) and data["dataset"].get(key, 0) is None:
            data["dataset"].pop(key)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def default_storage(results_dir: Path, workers: int) -> str:
    """The storage of a run folder's own study.

    A folder keeps the storage it started with — a journal file when it first ran
    with several workers, SQLite with one — so changing ``runtime.workers``
    resumes the same study. A new folder: SQLite for one local worker, Optuna's
    journal file (safe across processes) for several.
    """
    root = Path(results_dir).resolve()
    journal, db = root / STUDY_JOURNAL, root / STUDY_DB
    if journal.exists():
        return f"journal://{journal}"
    if db.exists() or workers <= 1:
        return f"sqlite:///{db}"
    return f"journal://{journal}"


def run_folds(spec: Spec) -> list[int | None]:
    """The folds a spec's runs validate on: ``[None]`` without k-fold, the one fixed fold, or 1..k."""
    ds = spec.dataset
    if ds.fold is not None:
        return [ds.fold]
    return list(range(1, ds.folds + 1)) if ds.folds else [None]


@dataclass(frozen=True)
class PlannedRun:
    run_id: str
    spec_hash: str
    spec: Spec
    matrix_cell: dict[str, Any]
    seed: int
    results_dir: Path
    storage: str | None  # explicit URL (spec, $FERBENCH_STORAGE or --storage); None = default_storage
    slots: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def storage_url(self) -> str:
        """The storage ``run`` opens: the explicit URL, else the run folder's own study (see :func:`default_storage`)."""
        return self.storage or default_storage(self.results_dir, len(self.slots))

    @property
    def storage_display(self) -> str:
        return hide_password(self.storage_url)


@dataclass(frozen=True)
class Plan:
    spec: Spec
    runs: list[PlannedRun] = field(default_factory=list)


def plan_spec(spec: Spec, *, gpus: Sequence[int], storage: str | None = None) -> Plan:
    """Expand a spec into runs: one per matrix cell and seed.

    ``gpus``: the visible GPU indices (:func:`ferbench.devices.visible_gpus`); the
    planner itself never looks at the machine's devices.
    """
    url = storage or os.environ.get("FERBENCH_STORAGE") or spec.runtime.storage
    remember(url)
    problem = storage_problem(url) if url else None
    if problem:
        where = "--storage" if storage else "$FERBENCH_STORAGE" if os.environ.get("FERBENCH_STORAGE") else "runtime.storage"
        raise FerbenchError(f"{where}: {problem}")
    runs: list[PlannedRun] = []
    for cell in matrix_cells(spec.matrix) if spec.matrix else [{}]:
        for seed, fold in itertools.product(spec.seeds, run_folds(spec)):
            s = spec_for_cell(spec, cell, seed, fold)
            h = spec_hash(s.raw)
            slots = device_slots(s.runtime.devices, s.runtime.workers, gpus)
            notes = list(spec.notes)
            if len(slots) > 1 and s.search.sampler.name == "tpe" and not s.search.sampler.options.get("constant_liar"):
                notes.append("several workers share this TPE study: constant_liar is turned on so parallel trials do not sample the same point")
            if len(slots) > 1 and not url:
                notes.append("several local workers: the study is a journal file in the run folder (safe for several processes); "
                             "give a postgresql://... storage (runtime.storage, or --storage on the command line) to add workers on other hosts")
            runs.append(PlannedRun(
                run_id=h[:12], spec_hash=h, spec=s, matrix_cell=dict(cell), seed=seed,
                results_dir=Path(s.results) / s.name / h[:12], storage=url, slots=tuple(slots), notes=tuple(notes),
            ))
    return Plan(spec=spec, runs=runs)


def space_summary(spec: Spec) -> list[dict[str, Any]]:
    out = []
    for p in spec.search.space:
        d: dict[str, Any] = {"name": p.name, "key": p.key, "kind": p.kind}
        if p.kind == "categorical":
            d["choices"] = list(p.choices or ())
        else:
            d.update(low=p.low, high=p.high, step=p.step, log=p.log)
        out.append(d)
    return out


def sampler_summary(spec: Spec, *, parallel: bool) -> dict[str, Any]:
    """The sampler's options as the run uses them (TPE lies constantly when several workers share it)."""
    options = dict(spec.search.sampler.options)
    if spec.search.sampler.name == "nsga2":  # TPE's options (schema defaults) mean nothing to it
        options = {k: v for k, v in options.items() if k in ("seed", "population_size", "crossover_prob", "swapping_prob")}
    out = {"name": spec.search.sampler.name, **json_safe(options)}
    if parallel and spec.search.sampler.name == "tpe":
        out["constant_liar"] = True
    return out


def recipe_summary(spec: Spec) -> dict[str, Any]:
    """The optimizer and learning-rate schedule as the resolved spec states them (searched values left out)."""
    train = spec.train
    out: dict[str, Any] = {k: getattr(train, k) for k in ("optimizer", "momentum", "nesterov", "weight_decay") if getattr(train, k) is not None}
    out["schedule"] = {k: v for k, v in asdict(train.schedule).items() if v is not None}
    safe: dict[str, Any] = json_safe(out)
    return safe


def run_summary(run: PlannedRun) -> dict[str, Any]:
    """The JSON-safe description of a planned run (what ``ferbench plan --json`` prints)."""
    from ferbench.model.family import ModelConfigError
    from ferbench.model.ranges import arch_choices, cost_range  # pure Python, no TensorFlow

    s = run.spec
    archs = arch_choices(s.model, s.search.space)
    try:
        small, large = cost_range(s.model, s.search.space, s.input_shape, s.num_classes)
        params: list[int] | None = [small.params, large.params]
        macs: list[int] | None = [small.macs, large.macs]
    except ModelConfigError:  # a custom builder: known once built
        params = macs = None
    fixed = {k: v for k, v in {
        "width": s.model.width, "depth": s.model.depth, "dropout": s.model.dropout,
        "top_filters": s.model.top_filters, "drop_connect": s.model.drop_connect,
        "learning_rate": s.train.learning_rate, "batch_size": s.train.batch_size,
        "label_smoothing": s.loss.label_smoothing,
    }.items() if v is not None}
    out: dict[str, Any] = {
        "run_id": run.run_id,
        "spec_hash": run.spec_hash,
        "name": s.name,
        "matrix_cell": json_safe(run.matrix_cell),
        "seed": run.seed,
        "fold": None if s.dataset.fold is None else {"fold": s.dataset.fold, "folds": s.dataset.folds},
        "dataset": {"kind": s.dataset.kind, "path": s.dataset.path, "classes": list(s.dataset.classes), "input_shape": list(s.input_shape)},
        "model": {"arch": archs[0] if len(archs) == 1 else list(archs), "stages": None if s.model.stages is None else list(s.model.stages),
                  "params": params, "macs": macs, "weights": s.model.weights, "builder": s.model.builder},
        "fixed": fixed,
        "recipe": recipe_summary(s),
        "evaluate": {"tta": s.evaluate.tta, "on": [c.name for c in s.evaluate.on]},
        "trials": s.search.trials,
        "max_epochs": s.train.max_epochs,
        "epoch_budget": s.search.trials * s.train.max_epochs,
        "sampler": sampler_summary(s, parallel=len(run.slots) > 1),
        "pruner": {"name": s.search.pruner.name, **json_safe(dict(s.search.pruner.options))},
        "objective": {"metric": s.search.metric, "direction": s.search.direction},
        "space": space_summary(s),
        "devices": list(run.slots),
        "workers": len(run.slots),
        "assignment": worker_assignment(run.slots),
        "storage": run.storage_display,
        "results_dir": str(run.results_dir),
        "notes": list(run.notes),
    }
    # Keys of the frontier search only where a spec uses it, so plans of other specs read as before.
    if s.search.objectives:
        out["objectives"] = [{"metric": o.metric, "direction": o.direction} for o in s.search.objectives]
    if s.search.constraints:
        out["constraints"] = {c.metric: {"max": c.max if c.metric == "latency_ms" else int(c.max)} for c in s.search.constraints}
    return out


def plan_json(plan: Plan) -> str:
    """Byte-identical for identical input: sorted keys, no timestamps."""
    doc = {"spec": plan.spec.name, "runs": [run_summary(r) for r in plan.runs]}
    return json.dumps(doc, sort_keys=True, indent=2) + "\n"
