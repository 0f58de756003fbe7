"""``ferbench run``: carry every run of a plan from its folder to finished results.

For each planned run (one per matrix cell and seed): take the run folder's lock,
load the data, open the study, make it agree with the records on disk
(:mod:`ferbench.run.search.reconcile`), write the resolved spec and run.json, and
let the local workers pull trials until the study holds the spec's number: one
worker in this process, or one worker process per device slot
(:mod:`ferbench.run.search.pool`). Starting the same command again resumes where
the last one stopped, whatever stopped it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ferbench.errors import FerbenchError, ResultsError
from ferbench.plan import PlannedRun
from ferbench.results.atomic import file_lock
from ferbench.results.read import read_trial_record
from ferbench.results.records import RunRecord, RunStatus, TrialRecord
from ferbench.results.write import RunFile
from ferbench.run.progress import Reporter, RunInfo, make_reporter
from ferbench.run.search import accounting as st
from ferbench.run.search.storage_failure import storage_failure
from ferbench.run.session import RunSession, existing_record
from ferbench.run.signals import signals_as_interrupt

if TYPE_CHECKING:
    import optuna

OnChange = Callable[[st.Counts, "tuple[int, float] | None"], None]


@dataclass
class RunResult:
    """How one planned run ended."""

    run_id: str
    folder: Path
    status: RunStatus
    info: RunRecord  # run.json as last written
    best_record: TrialRecord | None


def quick_overrides(sets: Sequence[str] = (), trials: int | None = None, max_epochs: int | None = None) -> list[str]:
    """``--trials`` and ``--max-epochs`` as ``--set`` overrides (they change the run id)."""
    out = list(sets)
    if trials is not None:
        out.append(f"search.trials={int(trials)}")
    if max_epochs is not None:
        out.append(f"train.max_epochs={int(max_epochs)}")
    return out


def move_aside(folder: Path) -> Path:
    """``--fresh``: move an old run folder to ``<name>/.old/<run id>-<UTC time>``; nothing is deleted.

    The dot keeps it out of reports, which skip hidden folders.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = folder.parent / ".old" / f"{folder.name}-{stamp}"
    n = 1
    while dest.exists():
        dest = folder.parent / ".old" / f"{folder.name}-{stamp}-{n}"
        n += 1
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder), str(dest))
    return dest


def best_record(session: RunSession, info: RunRecord) -> TrialRecord | None:
    n = info.best_trial
    if n is None:
        return None
    path = session.paths.record(n)
    return read_trial_record(path) if path.exists() else None


def _prepare_folder(session: RunSession, fresh: bool) -> None:
    """``--fresh`` moves an old folder aside; the folder exists afterwards."""
    root = session.paths.root
    if root.exists() and not root.is_dir():
        raise ResultsError(f"{root}: exists and is not a folder; move it away or set `results` to another folder")
    if fresh and root.exists():
        with file_lock(session.paths.lock, blocking=False) as free:
            if not free:
                raise FerbenchError(f"{root}: the run is in progress in another process; stop it before starting over (fresh=True; --fresh)")
        dest = move_aside(root)
        session.reporter.message(f"starting over: moved the old run folder to {dest}")
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ResultsError(f"{root}: cannot write the run folder here ({exc.strerror or exc}); "
                           "set `results` in the spec to a writable folder") from None


def run_planned(session: RunSession, *, index: int, total: int, fresh: bool = False) -> RunResult:
    """Run (or resume) one planned run to the end; see the module docstring.

    Nothing is written to the run folder before the data loaded and the study
    opened and agreed with the records, so a missing file, a bad storage URL or a
    study that contradicts the records leaves nothing half-made behind.
    """
    paths = session.paths
    made = [p for p in (paths.root.parent, paths.root) if not p.exists()]
    _prepare_folder(session, fresh)
    with file_lock(paths.lock, blocking=False) as held:
        if not held:
            raise FerbenchError(f"{paths.root}: the run is in progress in another process (join it with `ferbench worker`)")
        try:
            slots, study, run_file = _open_run(session)
        except BaseException:  # a storage that failed to open, data that failed to load: no empty folder left
            _drop_if_unused(made, {paths.lock.name, paths.run_json_lock.name})
            raise
        status = _search(session, study, slots, run_file, index=index, total=total)
    info = run_file.record
    return RunResult(session.run_id, paths.root, status, info, best_record(session, info))


def _drop_if_unused(made: list[Path], locks: set[str]) -> None:
    """Remove the folders this start made when nothing but the run's lock files was written in them."""
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            if {p.name for p in folder.iterdir()} <= locks:
                for name in locks:
                    (folder / name).unlink(missing_ok=True)
                folder.rmdir()


def _open_run(session: RunSession) -> tuple[list[str], optuna.Study, RunFile]:
    """The devices, the study agreeing with the records and the started run record; the spec written beside them."""
    from ferbench.run.frameworks import quiet_libraries, quiet_optuna, select_devices
    from ferbench.run.search.publish import publish_run
    from ferbench.run.search.reconcile import reconcile
    from ferbench.run.search.study import open_run_study

    spec, planned, paths = session.spec, session.planned, session.paths
    old = existing_record(paths)
    if old is not None and old.spec_hash != planned.spec_hash:
        raise ResultsError(f"{paths.run_json}: made from a different spec (hash {old.spec_hash[:12]}); start over (fresh=True; --fresh on the command line)")
    if len(planned.slots) > 1:
        quiet_optuna()
        slots = list(planned.slots)
    else:
        quiet_libraries()
        slots = select_devices(spec.runtime)
    session.load_data()
    study = open_run_study(session)
    for line in reconcile(study, spec, paths, session.run_id, owns_storage=session.owns_storage,
                          storage_shown=session.recorded_storage()).messages():
        session.reporter.message(line)
    started = session.fresh_record(slots)
    publish_run(study, started)  # refuses data that differs from the study's (workers on other hosts)
    session.write_spec()
    return slots, study, RunFile.open(paths.run_json, started)


def _search(session: RunSession, study: optuna.Study, slots: list[str], run_file: RunFile, *, index: int, total: int) -> RunStatus:
    """The trial loop, here or in a pool of workers; the run record kept current, its final status returned."""
    spec, paths, reporter = session.spec, session.paths, session.reporter
    pooled = len(session.planned.slots) > 1

    def on_change(c: st.Counts, best: tuple[int, float] | None) -> None:
        run_file.update(trials=c.as_record(), best_trial=None if best is None else best[0])
        if spec.search.multi:
            run_file.update(pareto=tuple(st.pareto_numbers(study, spec)))
        run_file.save()

    status: RunStatus = "failed"  # unless the loop ends normally or is interrupted
    try:
        run_file.update(status="running")
        run_file.save()
        session.tracker.run_started(run_file.record)
        start = st.counts(study, spec.search.trials)
        reporter.run_started(RunInfo(name=spec.name, run_id=session.run_id, index=index, total_runs=total,
                                     target=spec.search.trials, finished=start.finished, folder=str(paths.root),
                                     metric=spec.search.metric, max_epochs=spec.train.max_epochs))
        remaining = None
        if spec.search.timeout_s is not None:  # on the run's wall time, summed over restarts
            remaining = max(spec.search.timeout_s - run_file.record.wall_time_s, 0.0)
        if pooled:
            final, normal = _run_pool(session, study, slots, on_change, remaining)
            status = "complete" if final.complete > 0 and normal else "failed"
        else:
            final = _run_here(session, study, on_change, remaining)
            status = "complete" if final.complete > 0 else "failed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        with contextlib.suppress(Exception):  # the storage itself may be what failed
            on_change(st.counts(study, spec.search.trials), st.best_of(study, spec))
        run_file.update(status=status)
        _save_last(run_file, failing=sys.exc_info()[1] is not None)
        session.tracker.run_finished(status)
        reporter.run_finished(status)
    return status


def _save_last(run_file: RunFile, *, failing: bool) -> None:
    """Write run.json's last state; on a full disk, never in place of the error already on its way out."""
    try:
        run_file.save()
    except OSError as exc:
        if not failing:
            raise ResultsError(f"cannot write {run_file.path}: {exc.strerror or exc}; free space, then run the same "
                               "command again (the records on disk are the truth)") from None


def _run_here(session: RunSession, study: optuna.Study, on_change: OnChange, remaining: float | None) -> st.Counts:
    """One local worker, in this process."""
    from ferbench.run.search.worker import WorkerContext, run_worker

    deadline = None if remaining is None else time.monotonic() + remaining
    ctx = WorkerContext(study=study, setup=session.trial_setup(), run_id=session.run_id, paths=session.paths,
                        exclusive=session.owns_storage, deadline=deadline, on_change=on_change,
                        storage=session.storage_url)
    return run_worker(ctx)


def _run_pool(session: RunSession, study: optuna.Study, slots: list[str], on_change: OnChange,
              remaining: float | None) -> tuple[st.Counts, bool]:
    """One worker process per device slot, supervised from here; ``(counts, ended normally)``."""
    from ferbench.run.search.pool import Pool, supervise

    spec, reporter = session.spec, session.reporter
    if session.owns_storage:
        dead = st.recover_dead(study, exclusive=True)
        if dead:
            reporter.message(f"re-queued trial(s) {', '.join(map(str, dead))} of a process that died; they re-run with the same parameters")
    c = st.counts(study, spec.search.trials)
    if c.done:
        return c, True
    pool = Pool(session.paths.root, slots, session.storage_url, reporter, timeout_s=remaining)
    final = supervise(pool, study, spec, on_change)
    if not final.done and not pool.exited_cleanly():
        reporter.message(f"every worker stopped before the study was done ({final.finished}/{final.target} finished); "
                         "run the same command again to resume")
        return final, False
    return final, True  # done, or search.timeout_h reached


def run_spec(spec_path: str | os.PathLike[str], *, sets: Sequence[str] = (), trials: int | None = None,
             max_epochs: int | None = None, fresh: bool = False, quiet: bool = False, storage: str | None = None,
             live: bool | None = None, reporter: Reporter | None = None, only: Sequence[str] = ()) -> list[RunResult]:
    """Run every run of a spec's plan (``only``: run ids to restrict to). Returns how each ended."""
    from ferbench.devices import visible_gpus
    from ferbench.plan import plan_spec
    from ferbench.run.frameworks import quiet_libraries
    from ferbench.spec import load_spec

    spec = load_spec(spec_path, quick_overrides(sets, trials, max_epochs))
    plan = plan_spec(spec, gpus=visible_gpus(), storage=storage)
    runs: list[PlannedRun] = [r for r in plan.runs if not only or r.run_id in only]
    if not runs:
        raise FerbenchError(f"no run of {spec_path} matches {', '.join(only)}")
    if any(len(r.slots) <= 1 for r in runs):
        quiet_libraries()  # before any live view starts (see its docstring)
    rep = reporter or make_reporter(quiet=quiet, live=live)
    results: list[RunResult] = []
    try:
        with signals_as_interrupt():
            for i, planned in enumerate(runs, 1):
                session = RunSession(planned, rep)
                try:
                    results.append(run_planned(session, index=i, total=len(runs), fresh=fresh))
                except Exception as exc:  # a study whose disk refused a write: one line naming it
                    failure = storage_failure(exc, session.storage_url)
                    if failure is None:
                        raise
                    raise failure from None
    finally:
        rep.close()
    return results
