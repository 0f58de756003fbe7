"""Read and validate results folders (``docs/results-format.md`` is the contract).

The run writer can call :func:`record_problems` / :func:`run_problems` before it writes,
and every reader (report, verify, evaluate) goes through :func:`load_runs`, which turns
a folder into typed frozen dataclasses or raises one :class:`ResultsError` that lists
every problem it found. Predictions are loaded lazily: a report of 50 trials only needs
the best trial's arrays.
"""

from __future__ import annotations

import functools
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ferbench.errors import ResultsError

SCHEMA_VERSION = 1
RUN_FILE = "run.json"
RECORD_FILE = "record.json"
#: Committed reference results (``ferbench verify`` targets) live here; the default report leaves them out.
REFERENCE_DIR = "reference"


def default_results(root: Path = Path("results")) -> list[Path]:
    """What ``ferbench report`` reads when given no folder: ``results/`` without ``results/reference/``."""
    if not root.is_dir():
        return [root]
    kept = [c for c in sorted(root.iterdir()) if c.is_dir() and c.name != REFERENCE_DIR and not c.name.startswith(".")]
    return kept or [root]
PREDICTIONS_FILE = "predictions.npz"
PREDICTION_KEYS = ("validation_y_true", "validation_y_prob", "test_y_true", "test_y_prob")
_UPGRADE = "upgrade ferbench to read it (pip install -U ferbench)"


# --------------------------------------------------------------------------- validation


@functools.lru_cache(maxsize=None)
def _validator(name: str) -> Any:
    import jsonschema

    from ferbench.spec.schema import load_schema

    return jsonschema.Draft202012Validator(load_schema(name))


def _problems(data: Any, schema: str) -> list[str]:
    """``json.path: message`` for every schema violation; a newer schema_version is one problem."""
    if isinstance(data, dict):
        version = data.get("schema_version")
        if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
            return [f"schema_version {version} is newer than this ferbench reads ({SCHEMA_VERSION}); {_UPGRADE}"]
    out = []
    for err in sorted(_validator(schema).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path).lstrip(".")
        msg = err.message if len(err.message) < 160 else err.message[:157] + "..."
        out.append(f"{where or '(top)'}: {msg}")
    return out


def record_problems(data: Any) -> list[str]:
    """Every way ``data`` breaks ``schemas/record.schema.json`` (empty when valid)."""
    return _problems(data, "record.schema.json")


def run_problems(data: Any) -> list[str]:
    """Every way ``data`` breaks ``schemas/run.schema.json`` (empty when valid)."""
    return _problems(data, "run.schema.json")


def _read_json(path: Path) -> tuple[Any, str | None]:
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except FileNotFoundError:
        return None, f"{path}: missing"
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path}: corrupt JSON ({exc})"


# --------------------------------------------------------------------------- data classes


@dataclass(frozen=True)
class Predictions:
    """Labels and predicted probabilities of one trial on validation and test."""

    validation_y_true: Any  # numpy int64 (N,)
    validation_y_prob: Any  # numpy float32 (N, K)
    test_y_true: Any
    test_y_prob: Any

    def y_true(self, split: str = "test") -> Any:
        return getattr(self, f"{split}_y_true")

    def y_prob(self, split: str = "test") -> Any:
        return getattr(self, f"{split}_y_prob")

    def y_pred(self, split: str = "test") -> Any:
        """Predicted class: the arg-max of the probabilities."""
        return self.y_prob(split).argmax(axis=1)


@dataclass(frozen=True)
class SplitMetrics:
    """A metrics block ``M`` of a record, as the trainer measured it."""

    n: int
    loss: float | None
    accuracy: float
    precision_macro: float
    recall_macro: float
    f1_macro: float
    precision_weighted: float
    recall_weighted: float
    f1_weighted: float
    per_class: Mapping[str, Mapping[str, float]]
    confusion: tuple[tuple[int, ...], ...]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SplitMetrics":
        return cls(**{**d, "confusion": tuple(tuple(r) for r in d["confusion"])})


@dataclass(frozen=True)
class Trial:
    """One trial record (``trials/<n>/record.json``) and where its files are."""

    path: Path
    number: int
    state: str
    error: str | None
    params: Mapping[str, Any]
    hyperparameters: Mapping[str, Any]
    cost_params: int | None
    cost_macs: int | None
    epochs: int
    best_epoch: int | None
    objective: float | None
    history: Mapping[str, tuple[float | None, ...]]
    validation: SplitMetrics | None
    test: SplitMetrics | None
    train_s: float
    eval_s: float
    seed: int

    @property
    def predictions_path(self) -> Path:
        return self.path / PREDICTIONS_FILE

    @property
    def has_predictions(self) -> bool:
        return self.predictions_path.is_file()

    def predictions(self, num_classes: int | None = None) -> Predictions:
        """Load ``predictions.npz``; raises :class:`ResultsError` when missing or malformed."""
        return load_predictions(self.predictions_path, num_classes)

    @classmethod
    def from_dict(cls, path: Path, d: Mapping[str, Any]) -> "Trial":
        metrics = d.get("metrics") or {}
        return cls(
            path=path,
            number=d["trial"],
            state=d["state"],
            error=d["error"],
            params=dict(d["params"]),
            hyperparameters=dict(d["hyperparameters"]),
            cost_params=d["cost"]["params"],
            cost_macs=d["cost"]["macs"],
            epochs=d["epochs"],
            best_epoch=d["best_epoch"],
            objective=d["objective"],
            history={k: tuple(v) for k, v in d["history"].items()},
            validation=SplitMetrics.from_dict(metrics["validation"]) if metrics else None,
            test=SplitMetrics.from_dict(metrics["test"]) if metrics else None,
            train_s=float(d["timings"]["train_s"]),
            eval_s=float(d["timings"]["eval_s"]),
            seed=d["seed"],
        )


@dataclass(frozen=True)
class Run:
    """One run folder: ``run.json``, the resolved spec (if readable) and its trials."""

    path: Path
    info: Mapping[str, Any]
    trials: tuple[Trial, ...]
    spec: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def run_id(self) -> str:
        return str(self.info["run_id"])

    @property
    def spec_name(self) -> str:
        return str(self.info["spec_name"])

    @property
    def label(self) -> str:
        """Short, unique-enough name: the spec name plus the matrix cell or run id."""
        cell = self.info.get("matrix_cell") or {}
        if cell:
            return f"{self.spec_name} [" + ", ".join(f"{k.split('.')[-1]}={v}" for k, v in cell.items()) + "]"
        return self.spec_name

    @property
    def status(self) -> str:
        return str(self.info["status"])

    @property
    def classes(self) -> list[str]:
        return list(self.info["dataset"]["classes"])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def dataset(self) -> str:
        """The benchmark name baselines match on: the dataset kind, or ``ferplus`` for FER2013 with FER+ labels."""
        kind = str(self.info["dataset"]["kind"])
        labels = (self.spec.get("dataset") or {}).get("labels") if isinstance(self.spec, Mapping) else None
        return "ferplus" if kind == "fer2013" and labels else kind

    @property
    def fingerprint(self) -> str:
        return str(self.info["dataset"]["fingerprint"])

    @property
    def direction(self) -> str:
        return str(self.info["objective"]["direction"])

    @property
    def complete_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.state == "complete"]

    @property
    def best(self) -> Trial | None:
        """The best complete trial as run.json names it (chosen on validation, never on test)."""
        bt = self.info.get("best_trial")
        return next((t for t in self.trials if t.number == bt), None)

    @property
    def compare_ids(self) -> list[str]:
        """Baseline ids the run's spec asks to compare with (``report.compare``)."""
        rep = self.spec.get("report") if isinstance(self.spec, Mapping) else None
        return list((rep or {}).get("compare") or [])

    @property
    def search_space(self) -> Mapping[str, Any]:
        return ((self.spec.get("search") or {}).get("space") or {}) if isinstance(self.spec, Mapping) else {}


# --------------------------------------------------------------------------- loading


def load_predictions(path: Path, num_classes: int | None = None) -> Predictions:
    """Read a ``predictions.npz`` and check its arrays agree with each other (and ``num_classes``)."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in PREDICTION_KEYS if k not in npz.files]
            if missing:
                raise ResultsError(f"{path}: missing arrays {', '.join(missing)} (expected {', '.join(PREDICTION_KEYS)})")
            arrays = {k: npz[k] for k in PREDICTION_KEYS}
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing (confidence intervals and paired tests need the saved predictions)") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ResultsError(f"{path}: corrupt ({exc})") from None
    for split in ("validation", "test"):
        y, p = arrays[f"{split}_y_true"], arrays[f"{split}_y_prob"]
        if y.ndim != 1 or p.ndim != 2 or len(y) != len(p):
            raise ResultsError(f"{path}: {split}_y_true {y.shape} and {split}_y_prob {p.shape} do not line up (want (N,) and (N, K))")
        if num_classes is not None and p.shape[1] != num_classes:
            raise ResultsError(f"{path}: {split}_y_prob has {p.shape[1]} columns but the run has {num_classes} classes")
        if len(y) and (y.min() < 0 or y.max() >= p.shape[1]):
            raise ResultsError(f"{path}: {split}_y_true holds labels outside 0..{p.shape[1] - 1}")
        arrays[f"{split}_y_true"] = y.astype("int64", copy=False)
    return Predictions(**arrays)


def find_run_dirs(paths: Sequence[str | Path]) -> list[Path]:
    """Every run folder (one holding ``run.json``) at or under ``paths``, sorted, without duplicates.

    A folder that looks like a run (``trials/`` or ``spec.resolved.yaml``) but has no
    ``run.json`` is an incomplete results folder and raises :class:`ResultsError`.
    """
    found: list[Path] = []
    incomplete: list[str] = []
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            raise ResultsError(f"{root}: no such file or folder")
        if root.is_file():
            if root.name == RUN_FILE:
                root = root.parent
            else:
                raise ResultsError(f"{root}: not a results folder (give a run folder or a folder of runs)")
        stack = [root]
        while stack:
            d = stack.pop()
            if (d / RUN_FILE).is_file():
                found.append(d)
                continue  # a run's own subfolders (trials/, best/) are not runs
            if (d / "trials").is_dir() or (d / "spec.resolved.yaml").is_file():
                incomplete.append(f"{d}: incomplete results folder: {RUN_FILE} is missing (the run was never started properly or the folder was copied in part)")
                continue
            stack.extend(sorted((c for c in d.iterdir() if c.is_dir() and not c.name.startswith(".")), reverse=True))
    if incomplete:
        raise ResultsError("\n".join(incomplete))
    shown = ", ".join(str(p) for p in paths)
    if not found:
        raise ResultsError(f"nothing to report: no {RUN_FILE} under {shown} (results folders are written by `ferbench run`)")
    unique = {d.resolve(): d for d in reversed(found)}  # the same run reached twice counts once
    return sorted(unique.values(), key=lambda d: str(d))


def _trial_dirs(run_dir: Path) -> list[Path]:
    tdir = run_dir / "trials"
    if not tdir.is_dir():
        return []
    return sorted(d for d in tdir.iterdir() if d.is_dir() and d.name.isdigit())


def _load_spec(run_dir: Path) -> Mapping[str, Any]:
    import yaml

    try:
        data = yaml.safe_load((run_dir / "spec.resolved.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _check_counts(run_dir: Path, info: Mapping[str, Any], trials: list[Trial]) -> list[str]:
    problems = []
    strict = info["status"] == "complete"
    for state in ("complete", "failed", "pruned"):
        have = sum(t.state == state for t in trials)
        want = info["trials"][state]
        if have < want and strict:
            problems.append(f"{run_dir}: incomplete results folder: {RUN_FILE} counts {want} {state} trial(s) but {have} record(s) are on disk")
    bt = info["best_trial"]
    if bt is not None:
        best = next((t for t in trials if t.number == bt), None)
        if best is None:
            problems.append(f"{run_dir}: incomplete results folder: best trial {bt} has no record (trials/{bt:04d}/{RECORD_FILE})")
        elif best.state != "complete":
            problems.append(f"{run_dir}: best trial {bt} is {best.state}, not complete")
    return problems


def load_run(run_dir: str | Path) -> Run:
    """Load one run folder, validating ``run.json`` and every trial record; all problems in one error."""
    run_dir = Path(run_dir)
    info, err = _read_json(run_dir / RUN_FILE)
    if err:
        raise ResultsError(f"incomplete results folder: {err}" if "missing" in err else err)
    bad = run_problems(info)
    if bad:
        raise ResultsError("\n".join(f"{run_dir / RUN_FILE}: {p}" for p in bad))
    problems: list[str] = []
    warnings: list[str] = []
    trials: list[Trial] = []
    for tdir in _trial_dirs(run_dir):
        rec_path = tdir / RECORD_FILE
        if not rec_path.exists():
            # A trial still training has a folder but no record yet (records are written whole, at the end).
            msg = f"{rec_path}: missing"
            (problems if info["status"] == "complete" else warnings).append(
                f"incomplete results folder: {msg}" if info["status"] == "complete" else f"{msg} (trial not finished; skipped)"
            )
            continue
        rec, err = _read_json(rec_path)
        if err:
            problems.append(err)
            continue
        bad = record_problems(rec)
        if bad:
            problems.extend(f"{rec_path}: {p}" for p in bad)
            continue
        if rec["run_id"] != info["run_id"]:
            problems.append(f"{rec_path}: run_id {rec['run_id']} does not match {RUN_FILE} ({info['run_id']}); a trial from another run was copied here")
            continue
        if int(tdir.name) != rec["trial"]:
            problems.append(f"{rec_path}: record of trial {rec['trial']} is in folder {tdir.name}")
            continue
        trial = Trial.from_dict(tdir, rec)
        if trial.state == "complete" and not trial.has_predictions:
            warnings.append(f"{trial.predictions_path}: missing; metrics come from the record and carry no confidence interval")
        for split in ("validation", "test"):
            m = getattr(trial, split)
            if m is not None and len(m.confusion) != len(info["dataset"]["classes"]):
                problems.append(f"{rec_path}: metrics.{split}.confusion is {len(m.confusion)}x.. but the run has {len(info['dataset']['classes'])} classes")
        trials.append(trial)
    if not problems:
        problems.extend(_check_counts(run_dir, info, trials))
    if problems:
        raise ResultsError("\n".join(problems))
    return Run(path=run_dir, info=info, trials=tuple(trials), spec=_load_spec(run_dir), warnings=tuple(warnings))


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    """Find and load every run under ``paths``; one :class:`ResultsError` lists every problem of every run."""
    runs, problems = [], []
    for d in find_run_dirs(list(paths)):
        try:
            runs.append(load_run(d))
        except ResultsError as exc:
            problems.append(str(exc))
    if problems:
        raise ResultsError("\n".join(problems))
    return runs


def finite(x: float | None) -> float | None:
    """``x`` unless it is None or not finite (histories may hold null for a NaN loss)."""
    return x if x is not None and math.isfinite(x) else None
