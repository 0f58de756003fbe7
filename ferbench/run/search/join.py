"""One worker process joining a run's study: ``ferbench worker`` and each worker of a local pool.

A worker opens the storage, loads the study named after the run id (refusing one
made from a different spec before TensorFlow is even imported), loads the data,
and pulls trials with :func:`ferbench.run.search.worker.run_worker` until the
study holds the spec's number of trials. Any number of workers, on any hosts, may
share one study; see :mod:`ferbench.run.search.accounting` for how trials are counted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ferbench.cluster.jobs import job_of_this_process
from ferbench.errors import FerbenchError, ResultsError
from ferbench.results.write import SharedRunFile
from ferbench.run.progress import Reporter, RunInfo
from ferbench.run.search import accounting as st
from ferbench.run.search.publish import publish_run
from ferbench.run.search.storage import journal_path, sqlite_path
from ferbench.run.session import RunSession
from ferbench.secrets import hide_password
from ferbench.spec.types import Spec


@dataclass(frozen=True)
class WorkerOptions:
    """How this worker joins: its index among workers, its device slot, who supervises it."""

    create: bool = False  # create the study when the storage has none
    index: int | None = None  # a stable worker index (a pool's w<i>, a SLURM array task id)
    slot: str | None = None  # "cpu" or "gpu" (the one GPU CUDA_VISIBLE_DEVICES leaves); None: runtime.devices
    managed: bool = False  # started by `ferbench run`, which keeps run.json
    timeout_s: float | None = None  # stop starting trials after this long (the run's remaining budget)


def stream_of(opts: WorkerOptions, token: str) -> int:
    """The sampler stream of a worker: its index, else one drawn from its name (never 0)."""
    if opts.index is not None:
        return int(opts.index) + 1
    import hashlib

    return 1 + int.from_bytes(hashlib.sha256(token.encode()).digest()[:3], "big")


def poll_seconds(default: float) -> float:
    """How often a waiting worker looks at the study again (``$FERBENCH_POLL_S`` overrides)."""
    value = os.environ.get("FERBENCH_POLL_S", "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise FerbenchError(f"$FERBENCH_POLL_S={value!r}: expected a number of seconds above 0")
    return seconds


def worker_storage(session: RunSession, create: bool) -> str:
    """The storage a worker joins: the explicit one, else the run folder's journal file.

    A worker never makes a storage by accident: without ``--create`` an SQLite
    file or journal that does not exist is refused instead of created empty.
    """
    if session.planned.storage:
        url = session.planned.storage
    else:
        journal = session.paths.study_journal.resolve()
        if not journal.exists():
            raise FerbenchError("a worker needs the study's storage: give its URL (storage=; --storage URL on the command line; or set $FERBENCH_STORAGE "
                                "or runtime.storage); a local run with several workers keeps it in its folder's study.journal")
        url = f"journal://{journal}"
    file = sqlite_path(url) or journal_path(url)
    if not create and file is not None and not file.exists():
        raise ResultsError(f"{hide_password(url)}: no such study storage; start the study with `ferbench run SPEC --storage URL`, "
                           "or let the worker create it (create=True; --create on the command line)")
    return url


def worker_sessions(source: Spec | Path, reporter: Reporter, *, storage: str | None, run_id: str | None) -> list[RunSession]:
    """The runs a worker joins: a run folder's one run, or a spec's plan (every run, or the one ``run_id`` names).

    A run id the plan does not have is still joined where the plan has one run: the study it
    names is checked against this spec's hash, and refused when they differ.
    """
    from ferbench.devices import visible_gpus
    from ferbench.plan import plan_spec

    if isinstance(source, Path):
        return [RunSession.from_folder(source, reporter, storage=storage, gpus=visible_gpus())]
    the_plan = plan_spec(source, gpus=visible_gpus(), storage=storage)
    runs = [r for r in the_plan.runs if run_id is None or r.run_id == run_id]
    if not runs:
        if len(the_plan.runs) != 1:
            raise FerbenchError(f"no run of {source.name} has id {run_id}; `ferbench plan` on the spec lists them")
        runs = [dataclasses.replace(the_plan.runs[0], run_id=str(run_id))]
    return [RunSession(r, reporter) for r in runs]


def join_run(session: RunSession, opts: WorkerOptions, *, index: int = 1, total: int = 1) -> st.Counts:
    """Work on one planned run's study until it holds the spec's number of trials."""
    from ferbench.run.frameworks import quiet_libraries, select_devices
    from ferbench.run.search.owners import new_token, owner_lock, owners_dir
    from ferbench.run.search.storage import open_storage
    from ferbench.run.search.study import open_study
    from ferbench.run.search.worker import WorkerContext, run_worker

    spec, planned, reporter, paths = session.spec, session.planned, session.reporter, session.paths
    url = worker_storage(session, opts.create)
    token = new_token()
    # The study first: a study made from a different spec is refused before TensorFlow is imported.
    study = open_study(spec, study_name=session.run_id, storage=open_storage(url), spec_hash=planned.spec_hash,
                       create=opts.create, stream=stream_of(opts, token), parallel=True)
    quiet_libraries()
    slots = select_devices(spec.runtime, opts.slot)
    setup = session.trial_setup()
    fresh = session.fresh_record(slots).but(jobs=job_of_this_process())
    publish_run(study, fresh)  # refuses a host whose data differs from the study's
    journal = journal_path(url)
    owners = owners_dir(journal.resolve()) if journal is not None else None
    shared: SharedRunFile | None = None
    if not opts.managed:
        session.write_spec()
        shared = SharedRunFile(paths, fresh)
        shared.update(status="running")

    def on_change(c: st.Counts, best: tuple[int, float] | None) -> None:
        if shared is not None:
            done = {"status": "complete" if c.complete > 0 else "failed"} if c.done else {}
            pareto = {"pareto": tuple(st.pareto_numbers(study, spec))} if spec.search.multi else {}
            shared.update(trials=c.as_record(), best_trial=None if best is None else best[0], **pareto, **done)

    start = st.counts(study, spec.search.trials)
    reporter.run_started(RunInfo(name=spec.name, run_id=session.run_id, index=index, total_runs=total,
                                 target=spec.search.trials, finished=start.finished, folder=str(paths.root),
                                 metric=spec.search.metric, max_epochs=spec.train.max_epochs))
    reporter.message(f"worker {token} on {', '.join(slots)} joined study {session.run_id} in {hide_password(url)}")
    deadline = None if opts.timeout_s is None else time.monotonic() + max(float(opts.timeout_s), 0.0)
    if deadline is None and spec.search.timeout_s is not None and shared is not None:
        spent = shared.update().wall_time_s
        deadline = time.monotonic() + max(spec.search.timeout_s - spent, 0.0)
    poll = poll_seconds(default=2.0 if journal is not None else 10.0)
    ctx = WorkerContext(study=study, setup=setup, run_id=session.run_id, paths=paths, exclusive=False,
                        deadline=deadline, poll_s=poll, on_change=on_change, owner=token, owners=owners,
                        storage=url)
    final: st.Counts | None = None
    with contextlib.ExitStack() as stack:
        if owners is not None:
            stack.enter_context(owner_lock(owners, token))
        try:
            final = run_worker(ctx)
        finally:
            reporter.run_finished("complete" if final is not None and final.done else "stopped")
    return final
