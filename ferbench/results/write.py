"""Writing a run folder: trial folders once, whole; ``run.json`` kept up to date.

Records are written once and never rewritten: a resumed run leaves every
finished trial's files byte-for-byte as they were. Only ``run.json`` (status,
counts, wall time) and ``best/`` change over a run's life.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ferbench.errors import ResultsError
from ferbench.results.atomic import file_lock, write_json, write_npz, write_text
from ferbench.results.paths import HISTORY_FILE, PREDICTIONS_FILE, RECORD_FILE, TRACEBACK_FILE, RunPaths
from ferbench.results.records import RunRecord, TrialResult, utc_now
from ferbench.results.schema import record_problems, run_problems

#: history.csv columns, in order (extra per-epoch metrics such as val_f1_macro follow).
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")


def history_csv(history: Mapping[str, Sequence[float | None]], epoch_s: Sequence[float]) -> str:
    """Per-epoch metrics as CSV (``epoch`` 1-based; empty cell where a value is missing)."""
    extra = sorted(k for k in history if k not in HISTORY_COLUMNS)
    cols = list(HISTORY_COLUMNS) + extra
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for i in range(len(epoch_s)):
        row: list[Any] = []
        for c in cols:
            if c == "epoch":
                row.append(i + 1)
                continue
            seq = list(epoch_s) if c == "seconds" else list(history.get(c, []))
            v = seq[i] if i < len(seq) else None
            row.append("" if v is None or not math.isfinite(float(v)) else repr(float(v)))
        w.writerow(row)
    return buf.getvalue()


def _checked(data: dict[str, Any], problems: list[str], what: str) -> dict[str, Any]:
    if problems:  # a bug in ferbench, never the user's doing: keep the traceback
        raise ValueError(f"refusing to write an invalid {what}: " + "; ".join(problems[:5]))
    return data


def write_trial(paths: RunPaths, result: TrialResult) -> Path:
    """Write a trial's folder: predictions, traceback and history first, record.json last.

    record.json is the marker of a finished trial folder: a reader that finds it
    finds the other files as well. An existing record is never replaced.
    """
    rec = result.record
    folder = paths.trial(rec.trial)
    if (folder / RECORD_FILE).exists():
        raise ResultsError(f"{folder / RECORD_FILE}: a finished record is never rewritten")
    data = _checked(rec.to_dict(), record_problems(rec.to_dict()), f"record of trial {rec.trial}")
    folder.mkdir(parents=True, exist_ok=True)
    if result.predictions is not None:
        write_npz(folder / PREDICTIONS_FILE, **result.predictions.arrays())
    if result.traceback:
        write_text(folder / TRACEBACK_FILE, result.traceback)
    history: dict[str, Sequence[float | None]] = dict(rec.history)
    if result.lr:
        history["lr"] = list(result.lr)
    write_text(folder / HISTORY_FILE, history_csv(history, rec.timings.epoch_s))
    write_json(folder / RECORD_FILE, data)
    return folder


def held_trials(paths: RunPaths) -> tuple[int, ...]:
    """The trial numbers whose record.json is in the folder (a trial still training has none yet)."""
    return tuple(int(d.name) for d in paths.trial_dirs() if (d / RECORD_FILE).is_file())


def write_run(path: Path, record: RunRecord) -> RunRecord:
    """Write ``run.json`` (checked against the schema first); returns what was written.

    ``holds`` is set from the folder itself, so a folder that holds only some
    trials of a run (one host's share) says which.
    """
    record = record.but(holds=held_trials(RunPaths(path.parent)))
    write_json(path, _checked(record.to_dict(), run_problems(record.to_dict()), "run.json"))
    return record


def _with_hosts(record: RunRecord, *more: tuple[str, ...]) -> RunRecord:
    return record.but(hosts=tuple(dict.fromkeys(h for hosts in (record.hosts, *more) for h in hosts)))


class RunFile:
    """``run.json`` of a run that one process owns, kept up to date while the run goes on.

    Wall time is summed over restarts: the time of earlier invocations is read
    back from the file, and this invocation's time is added on every save.
    """

    def __init__(self, path: Path, record: RunRecord):
        self.path = path
        self.record = record
        self._base_wall = float(record.wall_time_s)
        self._t0 = time.monotonic()

    @classmethod
    def open(cls, path: Path, fresh: RunRecord) -> RunFile:
        """Continue the existing file, or start from ``fresh`` when there is none.

        Identity (run id, spec hash, creation time), the wall time so far, the
        counts and the best trial come from the file; the rest is refreshed.
        """
        if path.exists():
            from ferbench.results.read import read_run_record

            old = read_run_record(path)
            return cls(path, _with_hosts(fresh.but(created=old.created, wall_time_s=old.wall_time_s, trials=old.trials,
                                                   best_trial=old.best_trial, hosts=old.writers,
                                                   pareto=old.pareto if fresh.pareto is not None else None), fresh.hosts))
        return cls(path, fresh)

    def update(self, **values: Any) -> None:
        self.record = self.record.but(**values)

    def save(self) -> None:
        self.record = write_run(self.path, self.record.but(
            wall_time_s=round(self._base_wall + (time.monotonic() - self._t0), 3), updated=utc_now()))


class SharedRunFile:
    """``run.json`` kept by workers that no ``ferbench run`` supervises (several, maybe on several hosts).

    Each update is made under a lock and re-reads the file. Wall time is the time
    during which at least one worker was at work: a save adds the time since the
    last save by any worker, at most the time since this worker's own last save.
    """

    def __init__(self, paths: RunPaths, fresh: RunRecord):
        self.paths = paths
        self.fresh = fresh
        self._last = time.time()

    def update(self, **values: Any) -> RunRecord:
        from ferbench.results.read import read_run_record

        with file_lock(self.paths.run_json_lock):
            rec = read_run_record(self.paths.run_json) if self.paths.run_json.exists() else self.fresh
            now = time.time()
            try:
                last_any = datetime.strptime(rec.updated, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
            except ValueError:
                last_any = now
            add = max(0.0, min(now - last_any, now - self._last))
            rec = _with_hosts(rec.but(wall_time_s=round(rec.wall_time_s + add, 3), updated=utc_now(), hosts=rec.writers, **values),
                              self.fresh.hosts)
            rec = rec.but(jobs=tuple(dict.fromkeys((*rec.jobs, *self.fresh.jobs))))
            rec = write_run(self.paths.run_json, rec)
            self._last = now
            return rec


def add_job(paths: RunPaths, job: str) -> bool:
    """Add a batch job (``slurm:4711``) to run.json's ``jobs``; ``False`` when the folder has no run.json yet.

    The job's workers add it themselves when they write run.json first.
    """
    from ferbench.results.read import read_run_record

    with file_lock(paths.run_json_lock):
        if not paths.run_json.exists():
            return False
        rec = read_run_record(paths.run_json)
        if job not in rec.jobs:
            write_run(paths.run_json, rec.but(jobs=(*rec.jobs, job)))
        return True
