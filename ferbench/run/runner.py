"""``ferbench run``: carry every run of a plan from its folder to finished results.

For each planned run (one per matrix cell and seed): take the run folder's lock,
write the resolved spec, load the data, open the study, and let the local
workers pull trials until the study holds the spec's number: one worker in this
process, or one worker process per device slot (:mod:`ferbench.run.pool`).
Starting the same command again resumes where the last one stopped, whatever
stopped it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ferbench.errors import FerbenchError, ResultsError
from ferbench.run import study as st
from ferbench.run.storage import open_storage
from ferbench.run.atomic import file_lock, write_text
from ferbench.run.progress import PlainReporter, Reporter, RunInfo, make_reporter
from ferbench.run.records import RunFile, RunPaths, read_json, recorded_storage, run_dict, sqlite_url
from ferbench.run.signals import signals_as_interrupt


@dataclass
class RunResult:
    """How one planned run ended."""

    run_id: str
    folder: Path
    status: str  # complete | failed | interrupted
    info: dict[str, Any]  # run.json as last written
    best_record: dict[str, Any] | None


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


def quiet_optuna() -> None:
    """Optuna's own log lines off: ferbench reports failed and pruned trials itself."""
    from ferbench._lazy import require

    optuna = require("optuna")
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def quiet_libraries() -> None:
    """Keep TensorFlow's and Optuna's chatter out of the progress view.

    TensorFlow is imported (and its devices listed) here, before any live view
    starts: its C++ start-up lines go straight to the terminal and would tear it.
    """
    import logging

    from ferbench._lazy import require

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf = require("tensorflow")
    tf.config.list_physical_devices("GPU")
    tf.get_logger().setLevel(logging.ERROR)
    optuna = require("optuna")
    # Failed and pruned trials are reported by ferbench itself, with the record's error.
    optuna.logging.set_verbosity(optuna.logging.ERROR)


# --- data -------------------------------------------------------------------------------

_DATA_CACHE: dict[str, Any] = {}


def load_run_data(spec: Any, seed: int, reporter: Reporter) -> tuple[Any, Any]:
    """The run's :class:`~ferbench.run.trial.RunData` and the loader's ``LoadedDataset``.

    Runs of one plan that share the dataset section and seed share one load.
    """
    import numpy as np

    from ferbench.data import class_weights, load_dataset
    from ferbench.run.trial import RunData

    key = json.dumps({"dataset": spec.raw.get("dataset"), "seed": seed, "loss": spec.raw.get("loss")}, sort_keys=True, default=str)
    if key not in _DATA_CACHE:
        t0 = time.monotonic()
        # The loader's own progress bar only where it cannot tear a live view.
        loaded = load_dataset(spec.dataset, seed=seed, progress=isinstance(reporter, PlainReporter))
        for w in getattr(loaded, "warnings", ()):
            reporter.message(f"data: {w}")
        y_train = loaded.splits["train"].y
        cw = class_weights(y_train, len(loaded.classes), spec.loss)
        data = RunData(
            classes=tuple(loaded.classes),
            x={s: loaded.splits[s].x for s in ("train", "validation", "test")},
            y={s: np.asarray(loaded.splits[s].y, dtype=np.int64) for s in ("train", "validation", "test")},
            class_weight=None if cw is None else np.asarray(cw, dtype=np.float64),
        )
        sizes = ", ".join(f"{s} {len(data.y[s])}" for s in ("train", "validation", "test"))
        reporter.message(f"data: {loaded.source}: {sizes} ({time.monotonic() - t0:.1f}s)")
        _DATA_CACHE.clear()  # keep one dataset in memory at a time
        _DATA_CACHE[key] = (data, loaded)
    return _DATA_CACHE[key]


def dataset_info(spec: Any, data: Any, loaded: Any) -> dict[str, Any]:
    """run.json's ``dataset`` block."""
    return {
        "kind": spec.dataset.kind,
        "source": str(loaded.source),
        "fingerprint": str(loaded.fingerprint),
        "classes": list(data.classes),
        "image_size": int(spec.dataset.image_size),
        "color": spec.dataset.color,
        "sizes": {s: int(len(data.y[s])) for s in ("train", "validation", "test")},
        "splits": {k: v for k, v in (spec.raw.get("dataset", {}).get("splits") or {}).items() if k in ("train", "validation", "test")},
        "class_weight": data.class_weight_dict(),
    }


# --- one run ----------------------------------------------------------------------------


def best_record(paths: RunPaths, info: dict[str, Any]) -> dict[str, Any] | None:
    n = info.get("best_trial")
    if n is None:
        return None
    p = paths.trial(int(n)) / "record.json"
    return read_json(p) if p.exists() else None


def select_devices(runtime: Any) -> list[str]:
    """Make TensorFlow see only the devices the spec asks for; return the slots used.

    One local worker trains on one device: ``cpu`` hides every GPU, a list of GPU
    indices keeps the first, ``auto`` keeps what is visible (Keras then uses the
    first GPU).
    """
    from ferbench._lazy import require

    tf = require("tensorflow")
    gpus = tf.config.list_physical_devices("GPU")
    if runtime.devices == "cpu":
        keep, slots = [], ["cpu"]
    elif runtime.devices == "auto":
        keep, slots = gpus[:1], ["gpu:0"] if gpus else ["cpu"]
    else:
        index = int(runtime.devices[0])
        if index >= len(gpus):
            raise FerbenchError(f"runtime.devices asks for GPU {index} but {len(gpus)} GPU(s) are visible")
        keep, slots = [gpus[index]], [f"gpu:{index}"]
    with contextlib.suppress(RuntimeError):  # already set by an earlier run of this plan
        tf.config.set_visible_devices(keep, "GPU")
    return slots


def _setup(spec: Any, data: Any, reporter: Reporter) -> Any:
    """What every trial of the run shares: data, precision policy, XLA switch."""
    from ferbench.model.runtime import detect_gpus, resolve_jit, resolve_precision
    from ferbench.run.trial import TrialSetup

    gpus = detect_gpus() if spec.runtime.devices != "cpu" else []
    spe = spec.runtime.steps_per_execution
    return TrialSetup(spec=spec, data=data, precision=resolve_precision(spec.runtime, gpus),
                      jit=resolve_jit(spec.runtime, on_gpu=bool(gpus)), reporter=reporter,
                      steps_per_execution=spe if isinstance(spe, int) else 1)


def local_storage_url(planned: Any, paths: RunPaths) -> str:
    """The storage of a run: the explicit URL, else the run folder's own study.

    A folder keeps the storage it started with (a journal file when it first ran
    with several workers, SQLite with one), so changing ``runtime.workers``
    resumes the same study.
    """
    if planned.storage:
        return planned.storage
    journal, db = paths.root.resolve() / "study.journal", paths.study_db
    if journal.exists():
        return f"journal://{journal}"
    if db.exists() or len(planned.slots) <= 1:
        return sqlite_url(db)
    return f"journal://{journal}"


def run_planned(planned: Any, *, index: int, total: int, reporter: Reporter, fresh: bool = False,
                origin: Any = None) -> RunResult:
    """Run (or resume) one planned run to the end; see the module docstring.

    Nothing is written to the run folder before the data loaded and the study
    opened, so a missing file or a bad storage URL leaves no half-made run behind.
    ``origin`` (a :class:`ferbench.run.pool.SpecOrigin`): the spec file and
    overrides, which worker processes need when the run has several device slots.
    """
    from ferbench.run.env import environment
    from ferbench.spec import dump_yaml

    spec = planned.spec
    paths = RunPaths(Path(planned.results_dir))
    pooled = len(planned.slots) > 1
    if pooled and origin is None:
        raise FerbenchError(f"run {planned.run_id} has {len(planned.slots)} workers: start it with run_spec or `ferbench run`, "
                            "which know the spec file the worker processes load")
    if fresh and paths.root.exists():
        with file_lock(paths.lock, blocking=False) as free:
            if not free:
                raise FerbenchError(f"{paths.root}: the run is in progress in another process; stop it before --fresh")
        dest = move_aside(paths.root)
        reporter.message(f"--fresh: moved the old run folder to {dest}")
    paths.root.mkdir(parents=True, exist_ok=True)
    with file_lock(paths.lock, blocking=False) as held:
        if not held:
            raise FerbenchError(f"{paths.root}: the run is in progress in another process (join it with `ferbench worker`)")
        if paths.run_json.exists():
            old = read_json(paths.run_json)
            if old.get("spec_hash") != planned.spec_hash:
                raise ResultsError(f"{paths.run_json}: made from a different spec (hash {str(old.get('spec_hash'))[:12]}); use --fresh to start over")
        if pooled:
            quiet_optuna()
            slots = list(planned.slots)
        else:
            quiet_libraries()
            slots = select_devices(spec.runtime)
        data, loaded = load_run_data(spec, planned.seed, reporter)
        url = local_storage_url(planned, paths)
        study = st.open_study(spec, study_name=planned.run_id, storage=open_storage(url), spec_hash=planned.spec_hash)
        if not paths.spec.exists():
            write_text(paths.spec, dump_yaml(spec.raw))
        run_file = RunFile.open(paths.run_json, run_dict(
            run_id=planned.run_id, spec_name=spec.name, spec_hash=planned.spec_hash, matrix_cell=planned.matrix_cell,
            seed=planned.seed, metric=spec.search.metric, direction=spec.search.direction, target=spec.search.trials,
            dataset=dataset_info(spec, data, loaded), environment=environment(), devices=slots,
            storage=recorded_storage(url, paths.root),
        ))

        def on_change(c: st.Counts, best: tuple[int, float] | None) -> None:
            run_file.update(trials={"target": c.target, "complete": c.complete, "failed": c.failed, "pruned": c.pruned},
                            best_trial=None if best is None else best[0])
            run_file.save()

        status = "failed"  # unless the loop ends normally or is interrupted
        try:
            run_file.update(status="running")
            run_file.save()
            start = st.counts(study, spec.search.trials)
            reporter.run_started(RunInfo(name=spec.name, run_id=planned.run_id, index=index, total_runs=total,
                                         target=spec.search.trials, finished=start.finished, folder=str(paths.root),
                                         metric=spec.search.metric, max_epochs=spec.train.max_epochs))
            remaining = None
            if spec.search.timeout_s is not None:  # on the run's wall time, summed over restarts
                remaining = max(spec.search.timeout_s - float(run_file.data.get("wall_time_s", 0.0)), 0.0)
            exclusive = planned.storage is None  # the run's own storage: its RUNNING trials are dead
            if pooled:
                final, normal = _run_pool(planned, study, url, slots, origin, reporter, on_change, remaining, exclusive)
                status = "complete" if final.complete > 0 and normal else "failed"
            else:
                final = _run_here(planned, study, spec, data, paths, reporter, on_change, remaining, exclusive)
                status = "complete" if final.complete > 0 else "failed"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            with contextlib.suppress(Exception):  # the storage itself may be what failed
                on_change(st.counts(study, spec.search.trials), st.best_complete(study, spec.search.direction))
            run_file.update(status=status)
            run_file.save()
            reporter.run_finished(status)
    info = dict(run_file.data)
    return RunResult(planned.run_id, paths.root, status, info, best_record(paths, info))


def _run_here(planned: Any, study: Any, spec: Any, data: Any, paths: RunPaths, reporter: Reporter,
              on_change: Any, remaining: float | None, exclusive: bool) -> st.Counts:
    """One local worker, in this process."""
    from ferbench.run.worker import WorkerContext, run_worker

    deadline = None if remaining is None else time.monotonic() + remaining
    ctx = WorkerContext(study=study, setup=_setup(spec, data, reporter), run_id=planned.run_id, paths=paths,
                        exclusive=exclusive, deadline=deadline, on_change=on_change)
    return run_worker(ctx)


def _run_pool(planned: Any, study: Any, url: str, slots: list[str], origin: Any, reporter: Reporter,
              on_change: Any, remaining: float | None, exclusive: bool) -> tuple[st.Counts, bool]:
    """One worker process per device slot, supervised from here; ``(counts, ended normally)``."""
    from ferbench.run.pool import Pool, supervise

    spec = planned.spec
    if exclusive:
        dead = st.recover_dead(study, exclusive=True)
        if dead:
            reporter.message(f"re-queued trial(s) {', '.join(map(str, dead))} of a process that died; they re-run with the same parameters")
    c = st.counts(study, spec.search.trials)
    if c.done:
        return c, True
    pool = Pool(origin, planned.run_id, slots, url, reporter, timeout_s=remaining)
    final = supervise(pool, study, spec.search.trials, spec.search.direction, on_change)
    if not final.done and not pool.exited_cleanly():
        reporter.message(f"every worker stopped before the study was done ({final.finished}/{final.target} finished); "
                         "run the same command again to resume")
        return final, False
    return final, True  # done, or search.timeout_h reached


def run_spec(spec_path: str | os.PathLike[str], *, sets: Sequence[str] = (), trials: int | None = None,
             max_epochs: int | None = None, fresh: bool = False, quiet: bool = False, storage: str | None = None,
             live: bool | None = None, reporter: Reporter | None = None, only: Sequence[str] = ()) -> list[RunResult]:
    """Run every run of a spec's plan (``only``: run ids to restrict to). Returns how each ended."""
    from ferbench.plan import plan_spec
    from ferbench.spec import load_spec

    spec = load_spec(spec_path, quick_overrides(sets, trials, max_epochs))
    plan = plan_spec(spec, storage=storage)
    runs = [r for r in plan.runs if not only or r.run_id in only]
    if not runs:
        raise FerbenchError(f"no run of {spec_path} matches {', '.join(only)}")
    from ferbench.run.pool import SpecOrigin

    origin = SpecOrigin(Path(spec_path), tuple(quick_overrides(sets, trials, max_epochs)))
    if any(len(r.slots) <= 1 for r in runs):
        quiet_libraries()  # before any live view starts (see its docstring)
    rep = reporter or make_reporter(quiet=quiet, live=live)
    results: list[RunResult] = []
    try:
        with signals_as_interrupt():
            for i, planned in enumerate(runs, 1):
                results.append(run_planned(planned, index=i, total=len(runs), reporter=rep, fresh=fresh, origin=origin))
    finally:
        rep.close()
    return results


def searched_names(spec: Any) -> set[str]:
    return {p.name for p in spec.search.space}

