"""Reading results folders (``docs/results-format.md`` is the contract).

Every reader — report, verify, evaluate, a resumed run — goes through here: a
folder becomes typed records (:mod:`ferbench.results.records`) or one
:class:`ResultsError` that lists every problem found. Predictions are loaded
lazily: a report of 50 trials only needs the best trial's arrays.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ferbench.errors import ResultsError
from ferbench.results.paths import PREDICTIONS_FILE, RECORD_FILE, RUN_FILE, SPEC_FILE, RunPaths
from ferbench.results.records import PREDICTION_KEYS, Predictions, RunRecord, TrialRecord, TrialState
from ferbench.results.schema import newer_version, record_problems, run_problems


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a results file; :class:`ResultsError` when missing, torn or from a newer ferbench."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: is a folder, not a file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: corrupt JSON ({exc})") from None
    except OSError as exc:
        raise ResultsError(f"{path}: unreadable ({exc.strerror or exc})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object")
    newer = newer_version(data)
    if newer:
        raise ResultsError(f"{path}: {newer}")
    return data


def read_run_record(path: Path) -> RunRecord:
    """``run.json``, validated."""
    data = read_json(path)
    bad = run_problems(data)
    if bad:
        raise ResultsError("\n".join(f"{path}: {p}" for p in bad))
    return RunRecord.from_dict(data)


def read_trial_record(path: Path) -> TrialRecord:
    """One ``record.json``, validated."""
    data = read_json(path)
    bad = record_problems(data)
    if bad:
        raise ResultsError("\n".join(f"{path}: {p}" for p in bad))
    return TrialRecord.from_dict(data)


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
        if len(y) == 0:
            raise ResultsError(f"{path}: {split}_y_true is empty; a scored split has at least one image")
        if num_classes is not None and p.shape[1] != num_classes:
            raise ResultsError(f"{path}: {split}_y_prob has {p.shape[1]} columns but the run has {num_classes} classes")
        if y.min() < 0 or y.max() >= p.shape[1]:
            raise ResultsError(f"{path}: {split}_y_true holds labels outside 0..{p.shape[1] - 1}")
        arrays[f"{split}_y_true"] = y.astype("int64", copy=False)
    return Predictions(**arrays)


def read_resolved_spec(path: Path) -> Mapping[str, Any]:
    """The resolved spec of a run folder as plain data (``{}`` when unreadable: reports still work)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------- a run folder


@dataclass(frozen=True)
class Run:
    """One run folder: ``run.json``, the resolved spec (if readable) and its trial records."""

    path: Path
    info: RunRecord
    trials: tuple[TrialRecord, ...]
    spec: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def paths(self) -> RunPaths:
        return RunPaths(self.path)

    @property
    def run_id(self) -> str:
        return self.info.run_id

    @property
    def spec_name(self) -> str:
        return self.info.spec_name

    @property
    def label(self) -> str:
        """Short, unique-enough name: the spec name plus the matrix cell."""
        cell = self.info.matrix_cell
        if cell:
            return f"{self.spec_name} [" + ", ".join(_cell_value(k, v) for k, v in cell.items()) + "]"
        return self.spec_name

    @property
    def status(self) -> str:
        return self.info.status

    @property
    def classes(self) -> list[str]:
        return list(self.info.dataset.classes)

    @property
    def num_classes(self) -> int:
        return len(self.info.dataset.classes)

    @property
    def dataset(self) -> str:
        """The benchmark name baselines match on: the dataset kind, or ``ferplus`` for FER2013 with FER+ labels."""
        kind = self.info.dataset.kind
        labels = (self.spec.get("dataset") or {}).get("labels")
        return "ferplus" if kind == "fer2013" and labels else kind

    @property
    def fingerprint(self) -> str:
        return self.info.dataset.fingerprint

    @property
    def direction(self) -> str:
        return self.info.objective.direction

    @property
    def complete_trials(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.state == "complete"]

    @property
    def best(self) -> TrialRecord | None:
        """The best complete trial as run.json names it (chosen on validation, never on test)."""
        bt = self.info.best_trial
        return next((t for t in self.trials if t.trial == bt), None)

    @property
    def compare_ids(self) -> list[str]:
        """Baseline ids the run's spec asks to compare with (``report.compare``)."""
        return list((self.spec.get("report") or {}).get("compare") or [])

    @property
    def search_space(self) -> Mapping[str, Any]:
        return (self.spec.get("search") or {}).get("space") or {}

    def predictions_path(self, trial: TrialRecord) -> Path:
        return self.paths.trial(trial.trial) / PREDICTIONS_FILE

    def has_predictions(self, trial: TrialRecord) -> bool:
        return self.predictions_path(trial).is_file()

    def predictions(self, trial: TrialRecord) -> Predictions:
        """Load a trial's ``predictions.npz``; :class:`ResultsError` when missing or malformed."""
        return load_predictions(self.predictions_path(trial), self.num_classes)


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
            if (d / RUN_FILE).exists():
                found.append(d)
                continue  # a run's own subfolders (trials/, best/) are not runs
            if (d / "trials").is_dir() or (d / SPEC_FILE).is_file():
                incomplete.append(f"{d}: incomplete results folder: {RUN_FILE} is missing (the run was never started properly or the folder was copied in part)")
                continue
            try:
                children = sorted((c for c in d.iterdir() if c.is_dir() and not c.name.startswith(".")), reverse=True)
            except OSError as exc:
                raise ResultsError(f"{d}: cannot list the folder ({exc.strerror or exc})") from None
            stack.extend(children)
    if incomplete:
        raise ResultsError("\n".join(incomplete))
    shown = ", ".join(str(p) for p in paths)
    if not found:
        raise ResultsError(f"nothing to report: no {RUN_FILE} under {shown} (results folders are written by `ferbench run`)")
    unique = {d.resolve(): d for d in reversed(found)}  # the same run reached twice counts once
    return sorted(unique.values(), key=lambda d: str(d))


def _check_counts(run_dir: Path, info: RunRecord, trials: list[TrialRecord]) -> list[str]:
    problems = []
    strict = info.status == "complete"
    states: tuple[TrialState, ...] = ("complete", "failed", "pruned")
    for state in states:
        have = sum(t.state == state for t in trials)
        want = info.trials.of(state)
        if have < want and strict:
            problems.append(f"{run_dir}: incomplete results folder: {RUN_FILE} counts {want} {state} trial(s) but {have} record(s) are on disk")
    bt = info.best_trial
    if bt is not None:
        best = next((t for t in trials if t.trial == bt), None)
        if best is None:
            problems.append(f"{run_dir}: incomplete results folder: best trial {bt} has no record (trials/{bt:04d}/{RECORD_FILE})")
        elif best.state != "complete":
            problems.append(f"{run_dir}: best trial {bt} is {best.state}, not complete")
    return problems


def read_trials(paths: RunPaths, run_id: str) -> tuple[list[TrialRecord], list[tuple[Path, str]]]:
    """Every readable trial record of a run folder, by number, and ``(folder, problem)`` for the others.

    A folder without ``record.json`` is a trial still training (or one whose
    process died): it is reported as a problem with ``missing`` in the text.
    """
    records: list[TrialRecord] = []
    problems: list[tuple[Path, str]] = []
    for tdir in paths.trial_dirs():
        rec_path = tdir / RECORD_FILE
        if not rec_path.exists():
            problems.append((tdir, f"{rec_path}: missing"))
            continue
        try:
            rec = read_trial_record(rec_path)
        except ResultsError as exc:
            problems.append((tdir, str(exc)))
            continue
        if rec.run_id != run_id:
            problems.append((tdir, f"{rec_path}: run_id {rec.run_id} does not match {RUN_FILE} ({run_id}); a trial from another run was copied here"))
        elif int(tdir.name) != rec.trial:
            problems.append((tdir, f"{rec_path}: record of trial {rec.trial} is in folder {tdir.name}"))
        else:
            records.append(rec)
    return records, problems


def load_run(run_dir: str | Path) -> Run:
    """Load one run folder, validating ``run.json`` and every trial record; all problems in one error."""
    paths = RunPaths(Path(run_dir))
    if not paths.run_json.exists():
        raise ResultsError(f"incomplete results folder: {paths.run_json}: missing")
    info = read_run_record(paths.run_json)
    records, bad = read_trials(paths, info.run_id)
    complete = info.status == "complete"
    problems: list[str] = []
    warnings: list[str] = []
    for _, text in bad:
        if text.endswith(": missing"):
            # A trial still training has a folder but no record yet (records are written whole, at the end).
            (problems if complete else warnings).append(
                f"incomplete results folder: {text}" if complete else f"{text} (trial not finished; skipped)")
        else:
            problems.append(text)
    for rec in records:
        if rec.state == "complete" and not (paths.trial(rec.trial) / PREDICTIONS_FILE).is_file():
            warnings.append(f"{paths.trial(rec.trial) / PREDICTIONS_FILE}: missing; metrics come from the record and carry no confidence interval")
        for split in ("validation", "test"):
            m = rec.metrics(split)
            if m is not None and len(m.confusion) != len(info.dataset.classes):
                problems.append(f"{paths.record(rec.trial)}: metrics.{split}.confusion is {len(m.confusion)}x.. "
                                f"but the run has {len(info.dataset.classes)} classes")
    if not problems:
        problems.extend(_check_counts(paths.root, info, records))
    if problems:
        raise ResultsError("\n".join(problems))
    return Run(path=paths.root, info=info, trials=tuple(records), spec=read_resolved_spec(paths.spec), warnings=tuple(warnings))


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


def _cell_value(key: str, value: Any) -> str:
    """``class_weight=none``; a whole section (a matrix over ``model``) as its own ``key=value`` pairs."""
    if isinstance(value, Mapping):
        return ", ".join(_cell_value(k, v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        value = "[" + ",".join(str(v) for v in value) + "]"
    return f"{key.split('.')[-1]}={value}"
