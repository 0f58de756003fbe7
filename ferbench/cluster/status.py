"""``ferbench status``: where a run's job and study stand — tasks, trials, best so far, ETA.

The tasks come from the scheduler (``sacct`` where SLURM keeps accounting, else
``squeue``); the trials from the study itself, so the numbers are the study's
whichever host ran what.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferbench.cluster import slurm
from ferbench.cluster.jobs import parse_job
from ferbench.cluster.secret import read_url, url_from_environment
from ferbench.cluster.submit import submissions
from ferbench.errors import ResultsError
from ferbench.results.paths import RunPaths
from ferbench.secrets import hide_password

if TYPE_CHECKING:
    import optuna

    from ferbench.run.search.accounting import Counts
    from ferbench.spec.types import Spec


@dataclass(frozen=True)
class RunState:
    """One run's state: its job's tasks, the study's counts, the best trial so far and an ETA."""

    folder: str
    run_id: str
    job: str | None
    task_source: str
    tasks: tuple[slurm.TaskState, ...]
    counts: Counts
    metric: str
    best: tuple[int, float] | None
    eta_s: float | None
    storage: str

    @property
    def left(self) -> int:
        return max(self.counts.target - self.counts.finished, 0)

    def to_dict(self) -> dict[str, Any]:
        c = self.counts
        return {
            "run": self.folder, "run_id": self.run_id, "storage": self.storage,
            "job": None if self.job is None else {"id": self.job, "source": self.task_source,
                                                   "tasks": [t.to_dict() for t in self.tasks]},
            "trials": {"target": c.target, "finished": c.finished, "complete": c.complete, "pruned": c.pruned,
                       "failed": c.failed, "running": c.running, "waiting": c.waiting, "left": self.left,
                       "retried": list(c.retried)},
            "done": c.done,
            "best": None if self.best is None else {"trial": self.best[0], "metric": self.metric, "value": self.best[1]},
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
        }


def storage_of(paths: RunPaths, storage: str | None) -> str:
    """The study's URL: ``--storage``, the environment, the job's storage file, else the folder's own study."""
    url = storage or url_from_environment()
    if url:
        return url
    for sub in reversed(submissions(paths)):
        if sub.get("storage_file"):
            return read_url(Path(str(sub["storage_file"])))
        if str(sub.get("storage") or "").startswith("journal://"):
            return str(sub["storage"])
    for local in (paths.study_journal, paths.study_db):
        if local.exists():
            return f"journal://{local.resolve()}" if local == paths.study_journal else f"sqlite:///{local.resolve()}"
    raise ResultsError(f"{paths.root}: no study found; give its storage with --storage URL (or $FERBENCH_STORAGE)")


def eta_seconds(study: optuna.Study, left: int, workers: int) -> float | None:
    """Time to the last trial: the mean length of the complete trials, for the trials left, over the busy workers."""
    import optuna

    lengths = [(t.datetime_complete - t.datetime_start).total_seconds() for t in study.get_trials(deepcopy=False)
               if t.state == optuna.trial.TrialState.COMPLETE and t.datetime_start and t.datetime_complete]
    if left == 0:
        return 0.0
    if not lengths:
        return None
    return sum(lengths) / len(lengths) * -(-left // max(workers, 1))


def _study(spec: Spec, run_id: str, url: str) -> optuna.Study | None:
    from ferbench._lazy import require
    from ferbench.run.search.storage import open_storage

    lib = require("optuna")
    try:
        study: optuna.Study = lib.load_study(study_name=run_id, storage=open_storage(url))
    except KeyError:  # no worker has created it yet
        return None
    return study


def run_state(folder: Path, storage: str | None = None) -> RunState:
    """Read a run folder's job and study."""
    from ferbench.run.search import accounting as st
    from ferbench.run.session import RunSession

    paths = RunPaths(folder)
    url = storage_of(paths, storage)
    session = RunSession.from_folder(folder, storage=url)
    spec = session.spec
    study = _study(spec, session.run_id, url)
    counts = st.counts(study, spec.search.trials) if study is not None else st.Counts(
        target=spec.search.trials, complete=0, pruned=0, failed=0, running=0, waiting=0, retried=(), surplus=())
    best = st.best_of(study, spec) if study is not None else None
    subs = submissions(paths)
    job = str(subs[-1]["job"]) if subs else None
    tasks: list[slurm.TaskState] = []
    source = "none"
    if job is not None and parse_job(job)[0] == "slurm":
        tasks, source = slurm.task_states(parse_job(job)[1])
    workers = max(counts.running, sum(1 for t in tasks if t.state == "RUNNING"), 1)
    left = max(counts.target - counts.finished, 0)
    eta = eta_seconds(study, left, workers) if study is not None else None
    return RunState(folder=os.fspath(folder), run_id=session.run_id, job=job, task_source=source, tasks=tuple(tasks),
                    counts=counts, metric=spec.search.metric, best=best, eta_s=eta, storage=hide_password(url))


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s"


def table_rows(state: RunState) -> list[tuple[str, str, str]]:
    """The rows of ``ferbench status``'s table: one per task, then the study."""
    c = state.counts
    rows = [(f"task {t.task}", t.state, f"{t.elapsed} on {t.where}" if t.state == "RUNNING" else t.where) for t in state.tasks]
    if state.job is not None and not state.tasks:
        rows.append((state.job, "-", state.task_source))
    rows.append(("trials", f"{c.finished} of {c.target} finished",
                 f"{c.complete} complete, {c.pruned} pruned, {c.failed} failed; {c.running} running, {c.waiting} waiting; {state.left} left"
                 + (f"; re-run after a stop: trial(s) {', '.join(map(str, c.retried))}" if c.retried else "")))
    rows.append(("best", "-" if state.best is None else f"trial {state.best[0]}",
                 "-" if state.best is None else f"{state.metric} {state.best[1]:.4f}"))
    rows.append(("ETA", "done" if c.done else ("-" if state.eta_s is None else _duration(state.eta_s)), ""))
    return rows


def render_table(state: RunState) -> str:
    """``ferbench status``'s output: a title line and one table."""
    from tabulate import tabulate

    title = f"{state.run_id}  {state.folder}  ({state.storage})"
    return title + "\n" + tabulate(table_rows(state), tablefmt="plain")
