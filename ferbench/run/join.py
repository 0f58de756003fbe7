"""One worker process joining a run's study: ``ferbench worker`` and each worker of a local pool.

A worker opens the storage, loads the study named after the run id (refusing one
made from a different spec before TensorFlow is even imported), loads the data,
and pulls trials with :func:`ferbench.run.worker.run_worker` until the study
holds the spec's number of trials. Any number of workers, on any hosts, may
share one study; see :mod:`ferbench.run.study` for how trials are counted.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ferbench.errors import FerbenchError
from ferbench.redact import redact
from ferbench.run import study as st
from ferbench.run.storage import journal_path, open_storage
from ferbench.run.atomic import file_lock, write_json, write_text
from ferbench.run.progress import Reporter, RunInfo
from ferbench.run.records import RunPaths, read_json, recorded_storage, run_dict, utc_now


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


def storage_url_for(planned: Any) -> str:
    """The storage a worker joins: the explicit one, else the run folder's journal file."""
    if planned.storage:
        return planned.storage
    journal = Path(planned.results_dir).resolve() / "study.journal"
    if journal.exists():
        return f"journal://{journal}"
    raise FerbenchError("a worker needs the study's storage: pass --storage URL (or set $FERBENCH_STORAGE "
                        "or runtime.storage); a local run with several workers keeps it in its folder's study.journal")


def worker_devices(runtime: Any, slot: str | None) -> list[str]:
    """Make TensorFlow see only this worker's device; return its slot name."""
    if slot is None:
        from ferbench.run.runner import select_devices

        return select_devices(runtime)
    from ferbench._lazy import require

    tf = require("tensorflow")
    gpus = tf.config.list_physical_devices("GPU")
    keep = gpus[:1] if slot.startswith("gpu") else []
    with contextlib.suppress(RuntimeError):
        tf.config.set_visible_devices(keep, "GPU")
    return [slot if keep or slot == "cpu" else "cpu"]


class SharedRunJson:
    """``run.json`` kept by workers that no ``ferbench run`` supervises (several, maybe on several hosts).

    Each update is made under a lock and re-reads the file. Wall time is the time
    during which at least one worker was at work: a save adds the time since the
    last save by any worker, at most the time since this worker's own last save.
    """

    def __init__(self, paths: RunPaths, fresh: dict[str, Any]):
        self.paths = paths
        self.fresh = fresh
        self._last = time.time()

    def update(self, **values: Any) -> None:
        with file_lock(self.paths.root / ".run.json.lock"):
            data = read_json(self.paths.run_json) if self.paths.run_json.exists() else dict(self.fresh)
            now = time.time()
            try:
                last_any = datetime.strptime(str(data.get("updated")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
            except ValueError:
                last_any = now
            add = max(0.0, min(now - last_any, now - self._last))
            data["wall_time_s"] = round(float(data.get("wall_time_s", 0.0)) + add, 3)
            data.update(values)
            data["updated"] = utc_now()
            write_json(self.paths.run_json, data)
            self._last = now


def join_run(planned: Any, opts: WorkerOptions, reporter: Reporter, *, index: int = 1, total: int = 1) -> st.Counts:
    """Work on one planned run's study until it holds the spec's number of trials."""
    from ferbench.run.owners import new_token, owner_lock, owners_dir
    from ferbench.run.runner import _setup, dataset_info, load_run_data, quiet_libraries
    from ferbench.run.worker import WorkerContext, run_worker

    spec = planned.spec
    url = storage_url_for(planned)
    token = new_token()
    storage = open_storage(url)
    study = st.open_study(spec, study_name=planned.run_id, storage=storage, spec_hash=planned.spec_hash,
                          create=opts.create, stream=stream_of(opts, token), parallel=True)
    quiet_libraries()
    paths = RunPaths(Path(planned.results_dir))
    slots = worker_devices(spec.runtime, opts.slot)
    data, loaded = load_run_data(spec, planned.seed, reporter)
    setup = _setup(spec, data, reporter)
    journal = journal_path(url)
    owners = owners_dir(journal.resolve()) if journal is not None else None
    shared: SharedRunJson | None = None
    if not opts.managed:
        from ferbench.run.env import environment
        from ferbench.spec import dump_yaml

        paths.root.mkdir(parents=True, exist_ok=True)
        if not paths.spec.exists():
            write_text(paths.spec, dump_yaml(spec.raw))
        shared = SharedRunJson(paths, run_dict(
            run_id=planned.run_id, spec_name=spec.name, spec_hash=planned.spec_hash, matrix_cell=planned.matrix_cell,
            seed=planned.seed, metric=spec.search.metric, direction=spec.search.direction, target=spec.search.trials,
            dataset=dataset_info(spec, data, loaded), environment=environment(), devices=slots, storage=recorded_storage(url, paths.root)))
        shared.update(status="running")

    def on_change(c: st.Counts, best: tuple[int, float] | None) -> None:
        if shared is not None:
            shared.update(trials={"target": c.target, "complete": c.complete, "failed": c.failed, "pruned": c.pruned},
                          best_trial=None if best is None else best[0],
                          **({"status": "complete" if c.complete > 0 else "failed"} if c.done else {}))

    start = st.counts(study, spec.search.trials)
    reporter.run_started(RunInfo(name=spec.name, run_id=planned.run_id, index=index, total_runs=total,
                                 target=spec.search.trials, finished=start.finished, folder=str(paths.root),
                                 metric=spec.search.metric, max_epochs=spec.train.max_epochs))
    reporter.message(f"worker {token} on {', '.join(slots)} joined study {planned.run_id} in {redact(url)}")
    deadline = None if opts.timeout_s is None else time.monotonic() + max(float(opts.timeout_s), 0.0)
    if deadline is None and spec.search.timeout_s is not None and shared is not None:
        deadline = time.monotonic() + max(spec.search.timeout_s - float(read_json(paths.run_json).get("wall_time_s", 0.0)), 0.0)
    poll = poll_seconds(default=2.0 if journal is not None else 10.0)
    ctx = WorkerContext(study=study, setup=setup, run_id=planned.run_id, paths=paths, exclusive=False,
                        deadline=deadline, poll_s=poll, on_change=on_change, owner=token, owners=owners)
    final = None
    with contextlib.ExitStack() as stack:
        if owners is not None:
            stack.enter_context(owner_lock(owners, token))
        try:
            final = run_worker(ctx)
        finally:
            reporter.run_finished("complete" if final is not None and final.done else "stopped")
    return final
