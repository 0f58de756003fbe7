"""The run folder on disk: paths, ``run.json`` and trial records (docs/results-format.md).

Records are written once, whole, and never rewritten: a resumed run leaves every
finished trial's files byte-for-byte as they were. Only ``run.json`` (status,
counts, wall time) and ``best/`` change over a run's life.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ferbench.errors import ResultsError
from ferbench.redact import redact
from ferbench.run.atomic import write_json, write_npz, write_text
from ferbench.run.env import environment

SCHEMA_VERSION = 1

#: history.csv columns, in order (extra per-epoch metrics such as val_f1_macro follow).
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")


def utc_now() -> str:
    """ISO 8601 UTC timestamp with a ``Z``, to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RunPaths:
    """Where everything of one run lives (``results/<name>/<run id>/``)."""

    root: Path

    @property
    def spec(self) -> Path:
        return self.root / "spec.resolved.yaml"

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def study_db(self) -> Path:
        return self.root / "study.db"

    @property
    def lock(self) -> Path:
        # Hidden: held by the process that owns the run while it runs.
        return self.root / ".lock"

    @property
    def trials(self) -> Path:
        return self.root / "trials"

    def trial(self, number: int) -> Path:
        return self.trials / f"{number:04d}"

    @property
    def best(self) -> Path:
        return self.root / "best"

    @property
    def best_model(self) -> Path:
        return self.best / "model.keras"

    @property
    def best_info(self) -> Path:
        # Which trial best/model.keras belongs to, so a restart can check it.
        return self.best / "best.json"

    def pending_model(self, number: int) -> Path:
        # A candidate best model, promoted once Optuna has recorded the trial complete.
        return self.best / f".pending-{number:04d}.keras"

    @property
    def retired(self) -> Path:
        # Files of trials whose process died before Optuna recorded them (hidden from globs).
        return self.root / ".retired"


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of an SQLite file (absolute path)."""
    return f"sqlite:///{Path(path).resolve()}"


def recorded_storage(url: str, root: Path) -> str:
    """run.json's ``storage``: the file name of the run folder's own study, else the redacted URL.

    A run folder stays movable (and free of machine paths) when its study lives inside it.
    """
    for scheme in ("sqlite:///", "journal://"):
        if url.startswith(scheme):
            file = Path(url[len(scheme):])
            if file.is_absolute() and file.parent == Path(root).resolve():
                return file.name
    return redact(url)


# --- trial records ----------------------------------------------------------------------


@dataclass
class TrialOutcome:
    """Everything a trial produced; turned into record.json, history.csv, predictions.npz."""

    number: int
    state: str  # complete | failed | pruned
    error: str | None
    params: dict[str, Any]
    hyperparameters: dict[str, Any]
    cost: dict[str, int | None]
    history: dict[str, list[float]]
    best_epoch: int | None
    objective: float | None
    metrics: dict[str, Any] | None
    class_weight: dict[str, float] | None
    train_s: float
    eval_s: float
    epoch_s: list[float]
    seed: int
    started: str
    finished: str
    predictions: dict[str, np.ndarray] | None = None
    traceback: str | None = None  # of a trial that failed with an exception

    @property
    def epochs(self) -> int:
        return len(self.epoch_s)


def record_dict(run_id: str, o: TrialOutcome) -> dict[str, Any]:
    """The record.json object of a trial (schemas/record.schema.json)."""
    rec: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "trial": o.number,
        "state": o.state,
        "error": o.error,
        "params": dict(o.params),
        "hyperparameters": dict(o.hyperparameters),
        "cost": dict(o.cost),
        "epochs": o.epochs,
        "best_epoch": o.best_epoch,
        "objective": o.objective if o.objective is None or math.isfinite(o.objective) else None,
        "history": {k: list(v) for k, v in o.history.items() if k not in ("lr", "seconds")},
        "class_weight": o.class_weight,
        "timings": {"train_s": round(o.train_s, 3), "eval_s": round(o.eval_s, 3), "epoch_s": [round(s, 3) for s in o.epoch_s]},
        "seed": o.seed,
        "started": o.started,
        "finished": o.finished,
        # The process that trained the trial: with workers on several hosts, not run.json's.
        "environment": environment(),
    }
    if o.metrics is not None:
        rec["metrics"] = o.metrics
    return rec


def history_csv(history: Mapping[str, Sequence[float]], epoch_s: Sequence[float]) -> str:
    """Per-epoch metrics as CSV (``epoch`` 1-based; empty cell where a value is missing)."""
    extra = sorted(k for k in history if k not in HISTORY_COLUMNS)
    cols = list(HISTORY_COLUMNS) + extra
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    n = len(epoch_s)
    for i in range(n):
        row: list[Any] = []
        for c in cols:
            if c == "epoch":
                row.append(i + 1)
                continue
            seq = list(epoch_s) if c == "seconds" else history.get(c, [])
            v = seq[i] if i < len(seq) else None
            row.append("" if v is None or (isinstance(v, float) and not math.isfinite(v)) else repr(float(v)))
        w.writerow(row)
    return buf.getvalue()


def write_trial(paths: RunPaths, run_id: str, o: TrialOutcome) -> Path:
    """Write a trial's folder: predictions, traceback and history first, record.json last.

    record.json is the marker of a finished trial folder: a reader that finds it
    finds the other two files as well.
    """
    folder = paths.trial(o.number)
    folder.mkdir(parents=True, exist_ok=True)
    if o.predictions:
        write_npz(folder / "predictions.npz", **o.predictions)
    if o.traceback:
        write_text(folder / "traceback.txt", o.traceback)
    write_text(folder / "history.csv", history_csv(o.history, o.epoch_s))
    write_json(folder / "record.json", record_dict(run_id, o))
    return folder


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON file of a run folder; a clear error when it is missing or torn."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: not found") from None
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object")
    version = data.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise ResultsError(f"{path}: schema_version {version} is newer than this ferbench reads ({SCHEMA_VERSION}); upgrade ferbench")
    return data


def read_records(paths: RunPaths) -> list[dict[str, Any]]:
    """Every trial record of a run, by trial number."""
    out = [read_json(p) for p in sorted(paths.trials.glob("*/record.json"))]
    return sorted(out, key=lambda r: int(r.get("trial", 0)))


# --- run.json ---------------------------------------------------------------------------


class RunFile:
    """``run.json`` of one run, kept up to date while the run goes on.

    Wall time is summed over restarts: the time of earlier invocations is read
    back from the file, and this invocation's time is added on every save.
    """

    def __init__(self, path: Path, data: dict[str, Any]):
        self.path = path
        self.data = data
        self._base_wall = float(data.get("wall_time_s", 0.0))
        self._t0 = time.monotonic()

    @classmethod
    def open(cls, path: Path, fresh: Mapping[str, Any]) -> "RunFile":
        """Continue the existing file, or start from ``fresh`` when there is none."""
        if path.exists():
            data = read_json(path)
            # Identity fields come from the first start; the rest is refreshed.
            for key, value in fresh.items():
                # Counts and the best trial stay until the study is read again.
                if key not in ("created", "wall_time_s", "run_id", "spec_hash", "trials", "best_trial") or key not in data:
                    data[key] = value
            data["created"] = data.get("created") or fresh["created"]
            return cls(path, data)
        return cls(path, dict(fresh))

    def update(self, **values: Any) -> None:
        self.data.update(values)

    def save(self) -> None:
        self.data["wall_time_s"] = round(self._base_wall + (time.monotonic() - self._t0), 3)
        self.data["updated"] = utc_now()
        write_json(self.path, self.data)


def run_dict(*, run_id: str, spec_name: str, spec_hash: str, matrix_cell: Mapping[str, Any], seed: int,
             metric: str, direction: str, target: int, dataset: Mapping[str, Any], environment: Mapping[str, Any],
             devices: Sequence[str], storage: str) -> dict[str, Any]:
    """A new run.json object (schemas/run.schema.json)."""
    now = utc_now()
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "spec_name": spec_name,
        "spec_hash": spec_hash,
        "status": "running",
        "created": now,
        "updated": now,
        "wall_time_s": 0.0,
        "matrix_cell": dict(matrix_cell),
        "seed": int(seed),
        "objective": {"metric": metric, "direction": direction},
        "trials": {"target": int(target), "complete": 0, "failed": 0, "pruned": 0},
        "best_trial": None,
        "dataset": dict(dataset),
        "environment": dict(environment),
        "devices": list(devices),
        "storage": storage,
    }
