"""The trial loop: pull trials from a study until it holds the spec's number of trials.

:func:`run_worker` is what one worker process runs. It joins a study by storage
URL and study name (the run id), so the same function serves the single local
worker of ``ferbench run`` and any number of workers on any number of hosts
sharing one study. See :mod:`ferbench.run.search.accounting` for how trials are counted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferbench.spec.types import Spec

if TYPE_CHECKING:
    import keras
    import optuna
    from optuna import Trial

from ferbench._lazy import require
from ferbench.errors import ControlFlow, ResultsError
from ferbench.results.atomic import file_lock, write_json, write_with
from ferbench.results.disk import exception_chain
from ferbench.results.paths import RunPaths
from ferbench.results.read import read_json
from ferbench.results.records import TrialRecord, TrialResult
from ferbench.results.write import write_trial
from ferbench.run.search import accounting as st
from ferbench.run.search.publish import publish_trial
from ferbench.run.search.storage_failure import storage_failure
from ferbench.run.search.values import study_values, tell_constraints
from ferbench.run.signals import deferred_interrupts, hold_to_the_end
from ferbench.run.train.setup import TrialSetup
from ferbench.run.train.space import suggest
from ferbench.run.train.trial import before_training, infeasible_result, release, run_trial, save_model


class TrialFailed(ControlFlow):
    """Raised inside the objective so Optuna records FAIL; the record is already written."""


class SurplusTrial(ControlFlow):
    """The trial started after the quota was full; it is dropped untrained."""


@dataclass
class WorkerContext:
    """Everything a worker needs; built by the runner (or by a remote ``worker`` command)."""

    study: optuna.Study
    setup: TrialSetup
    run_id: str
    paths: RunPaths
    exclusive: bool = False  # this process owns the run and its storage: RUNNING trials are dead
    deadline: float | None = None  # time.monotonic() after which no new trial starts
    poll_s: float = 10.0  # how often to look again while other workers hold the last trials
    on_change: Callable[[st.Counts, tuple[int, float] | None], None] | None = None
    results: list[TrialResult] = field(default_factory=list)  # this worker's finished trials
    owner: str | None = None  # this worker's name, kept on every trial it runs (ferbench_owner)
    owners: Path | None = None  # owner locks of a storage without heartbeats (see ferbench.run.search.owners)
    storage: str | None = None  # the study's storage URL, named when its disk refuses a write

    @property
    def spec(self) -> Spec:
        return self.setup.spec


def _better(a: float, b: float, direction: str) -> bool:
    return a < b if direction == "minimize" else a > b


# --- best model -------------------------------------------------------------------------


def promote_best(ctx: WorkerContext, number: int, value: float) -> bool:
    """Move trial ``number``'s pending model to ``best/model.keras`` if it is the best so far.

    Runs only after Optuna has recorded the trial complete, so ``best/`` never
    points at a trial that a crash could still undo. A lock keeps concurrent
    workers from interleaving the check and the move.
    """
    pending = ctx.paths.pending_model(number)
    if not pending.exists():
        return False
    direction = ctx.spec.search.direction
    with file_lock(ctx.paths.best / ".lock"):
        info = read_json(ctx.paths.best_info) if ctx.paths.best_info.exists() else None
        current = None if info is None else (int(info["trial"]), float(info["objective"]))
        if current is not None and current[0] not in {t.number for t in st.counted_trials(ctx.study.get_trials(deepcopy=False))}:
            current = None  # its trial no longer counts (re-run after its record was lost)
        wins = current is None or _better(value, current[1], direction) or (value == current[1] and number < current[0])
        if wins:
            os.replace(pending, ctx.paths.best_model)
            write_json(ctx.paths.best_info, {"run_id": ctx.run_id, "trial": number, "objective": value,
                                             "metric": ctx.spec.search.metric, "direction": direction})
        else:
            pending.unlink()  # a temporary candidate, never a result
    return wins


def reconcile_best(ctx: WorkerContext) -> None:
    """After a crash: promote candidates whose trial did complete, drop the others."""
    optuna = require("optuna")
    if not ctx.paths.best.is_dir():
        return
    by_number = {t.number: t for t in ctx.study.get_trials(deepcopy=False)}
    for pending in sorted(ctx.paths.best.glob(".pending-*.keras")):
        with contextlib.suppress(ValueError):
            n = int(pending.stem.split("-")[1])
            t = by_number.get(n)
            if t is not None and t.state == optuna.trial.TrialState.COMPLETE and t.values is not None and st.feasible(t):
                promote_best(ctx, n, float(t.values[st.primary_index(ctx.spec)]))
            elif t is None or t.state.is_finished():
                pending.unlink(missing_ok=True)


def retire_dead_records(ctx: WorkerContext, counts: st.Counts) -> None:
    """Move aside the folder of a trial that wrote its record but died before Optuna knew.

    Its re-run writes the counted record; the old one is kept in ``.retired/``.
    """
    for n in counts.retried:
        folder = ctx.paths.trial(n)
        if folder.exists():
            dest = ctx.paths.retired / f"{n:04d}-{int(time.time())}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), str(dest))


# --- the loop ---------------------------------------------------------------------------


def _keep(ctx: WorkerContext, trial: Trial, result: TrialResult, model: keras.Model | None, state: dict[str, Any]) -> TrialResult:
    """Save the trial's models (where the front or the best needs them), then write its record and tell the study.

    The models first, the record last: a disk that fills while a model is saved leaves
    a failed record (and a stopped run, see :func:`_save_models`), never a complete
    record without its model. Returns the result as recorded.
    """
    result = _save_models(ctx, result, model, state)
    rec = result.record
    _write_record(ctx, result)
    publish_trial(trial, rec)  # the study carries the record too: hosts may share no filesystem
    tell_constraints(trial, rec)
    if rec.state == "failed":
        # Only once the record is on disk: a trial marked with an error is never re-run.
        trial.set_user_attr(st.ATTR_ERROR, rec.error)
    return result


def _save_models(ctx: WorkerContext, result: TrialResult, model: Any, state: dict[str, Any]) -> TrialResult:
    """Save a complete trial's models (on the Pareto front; the best so far); a failed result if the disk refuses.

    The failure is also noted in ``state["disk"]``: the worker stops the run after the
    trial's record is written and told, as one line naming the path and the reason.
    """
    rec, spec = result.record, ctx.spec
    if not (rec.state == "complete" and model is not None and rec.objective is not None and rec.feasible):
        return result
    target = ctx.paths.trial_model(rec.trial)
    try:
        if spec.search.multi and _on_front(ctx, rec):  # kept beside its record: `ferbench export --pareto` needs it
            ctx.paths.trial(rec.trial).mkdir(parents=True, exist_ok=True)
            write_with(target, lambda p: save_model(model, p), suffix=".keras")
        best = st.best_of(ctx.study, spec)
        if best is None or _better(float(rec.objective), best[1], spec.search.direction):
            target = ctx.paths.pending_model(rec.trial)
            write_with(target, lambda p: save_model(model, p), suffix=".keras")
    except OSError as exc:
        error = f"cannot save the model to {target}: {exc.strerror or exc}"
        state["disk"] = f"{error}; the trial is recorded failed; free space, then run the same command again"
        failed = dataclasses.replace(rec, state="failed", error=error, latency=None, constraints=None, values=None,
                                     validation=None, test=None, tta=None, cross={})
        return TrialResult(failed, None, result.traceback, result.lr)
    return result


def _write_record(ctx: WorkerContext, result: TrialResult) -> None:
    """:func:`write_trial`, a full or read-only disk told as one line naming the trial's folder."""
    try:
        write_trial(ctx.paths, result)
    except OSError as exc:
        raise ResultsError(f"cannot write the record of trial {result.record.trial} in {ctx.paths.trial(result.record.trial)}: "
                           f"{exc.strerror or exc}; free space, then run the same command again (the trial re-runs)") from None


def _objective(ctx: WorkerContext, state: dict[str, Any]) -> Callable[[Trial], float | list[float]]:
    optuna = require("optuna")
    spec = ctx.spec
    target = spec.search.trials

    def objective(trial: Trial) -> float | list[float]:
        state["number"] = trial.number
        if ctx.owner is not None:
            trial.set_user_attr(st.ATTR_OWNER, ctx.owner)
        if not st.within_quota(ctx.study, trial.number, target):
            trial.set_user_attr(st.ATTR_SURPLUS, True)
            raise SurplusTrial(f"trial {trial.number} is beyond the {target} trials of the spec")
        params = suggest(trial, spec.search.space)
        root = int(trial.user_attrs.get(st.ATTR_ROOT, trial.number))
        seed = st.trial_seed(spec.seed, root)
        hp, cost, check = before_training(spec, params)
        if check is not None and not check.feasible:
            # Over a bound on parameters or MACs: judged by the cost model, nothing built or trained.
            return _infeasible(ctx, trial, state, infeasible_result(ctx.setup, number=trial.number, params=params, seed=seed,
                                                                    hp=hp, cost=cost, check=check))
        ctx.setup.reporter.trial_started(trial.number, params)
        ctx.setup.tracker.trial_started(trial.number, params)

        def report(step: int, value: float) -> bool:
            if spec.search.multi:
                return False  # Optuna neither stores intermediate values nor prunes for several objectives
            trial.report(value, step)
            return bool(trial.should_prune())

        try:
            result, model = run_trial(ctx.setup, number=trial.number, params=params, seed=seed, report=report)
        except KeyboardInterrupt:
            trial.set_user_attr(st.ATTR_INTERRUPTED, True)
            raise
        hold_to_the_end()  # the record and the study's tell: neither without the other
        try:
            result = _keep(ctx, trial, result, model, state)
        finally:
            release(model)
            model = None
        rec = result.record
        ctx.setup.tracker.trial_finished(rec, ctx.paths)  # guarded: a tracker's failure is one line, never the trial's
        state["result"] = result
        ctx.results.append(result)
        if rec.state == "failed":
            raise TrialFailed(rec.error)
        if rec.state == "pruned":
            raise optuna.TrialPruned(f"pruned at epoch {rec.epochs}")
        return study_values(spec, rec)

    return objective


def _infeasible(ctx: WorkerContext, trial: Trial, state: dict[str, Any], result: TrialResult) -> float | list[float]:
    """Record a trial judged over a bound before training; Optuna gets it complete, with its constraint values."""
    rec = result.record
    write_trial(ctx.paths, result)
    publish_trial(trial, rec)
    trial.set_user_attr(st.ATTR_INFEASIBLE, True)
    tell_constraints(trial, rec)
    state["result"] = result
    ctx.results.append(result)
    return study_values(ctx.spec, rec)


def _on_front(ctx: WorkerContext, rec: TrialRecord) -> bool:
    """Whether a complete, feasible trial is on the Pareto front of the trials finished so far."""
    from ferbench.results.pareto import dominates

    mine = study_values(ctx.spec, rec)
    directions = [g.direction for g in ctx.spec.search.goals]
    others = [t for t in st.counted_trials(ctx.study.get_trials(deepcopy=False))
              if t.number != rec.trial and t.state.name == "COMPLETE" and t.values is not None and st.feasible(t)]
    return not any(dominates(list(t.values), mine if isinstance(mine, list) else [mine], directions) for t in others)


def _requeue_interrupted(study: optuna.Study, number: int | None) -> None:
    """Trial ``number`` stopped without a result: give it back with the same parameters."""
    optuna = require("optuna")
    if number is None:
        return
    t = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if t is None or t.state != optuna.trial.TrialState.FAIL or st.ATTR_ERROR in t.user_attrs or t.user_attrs.get(st.ATTR_SURPLUS):
        return
    if any(int(o.user_attrs.get(st.ATTR_RETRY_OF, -1)) == number for o in study.get_trials(deepcopy=False)):
        return
    st.requeue(study, t)


def _declared_dead(ctx: WorkerContext, exc: BaseException, number: int | None) -> bool:
    """Whether the study had failed trial ``number`` before this worker could tell it: another worker found its
    heartbeat older than the grace period (a stalled host) and queued it again. The queued copy runs, the loop moves
    this record to ``.retired/`` (kept, as for any re-run trial), and the worker goes on."""
    optuna = require("optuna")
    refused = (ValueError, optuna.exceptions.UpdateFinishedTrialError)
    if number is None or not any(isinstance(e, refused) for e in exception_chain(exc)):
        return False
    t = next((t for t in ctx.study.get_trials(deepcopy=False) if t.number == number), None)
    if t is None or t.state != optuna.trial.TrialState.FAIL or st.ATTR_ERROR in t.user_attrs or t.user_attrs.get(st.ATTR_SURPLUS):
        return False
    _requeue_interrupted(ctx.study, number)  # queued by the worker that declared it dead; again only where that was lost
    ctx.setup.reporter.message(f"trial {number} finished after another worker had declared it dead (no heartbeat within the "
                               "grace period) and queued it again: the queued copy runs, and this record is kept in .retired/")
    return True


def run_worker(ctx: WorkerContext) -> st.Counts:
    """Run trials until the study holds the spec's number of finished trials.

    Returns the final counts. On ``KeyboardInterrupt`` (or any error outside the
    trial's own training) the interrupted trial is re-queued before the exception
    goes on, so a later start re-runs it with the same parameters.
    """
    spec = ctx.spec
    target = spec.search.trials
    reporter = ctx.setup.reporter
    if ctx.exclusive:
        dead = st.recover_dead(ctx.study, exclusive=True, owners=ctx.owners)
        if dead:
            reporter.message(f"re-queued trial(s) {', '.join(map(str, dead))} of a process that died; they re-run with the same parameters")
    reconcile_best(ctx)
    state: dict[str, Any] = {}
    objective = _objective(ctx, state)
    waiting_said = False
    while True:
        dead = st.recover_dead(ctx.study, exclusive=False, owners=ctx.owners)
        if dead:
            why = "stopped" if ctx.owners is not None else "stopped sending heartbeats"
            reporter.message(f"re-queued trial(s) {', '.join(map(str, dead))} whose worker {why}; they re-run with the same parameters")
        c = st.counts(ctx.study, target)
        retire_dead_records(ctx, c)
        best = st.best_of(ctx.study, spec)
        if ctx.on_change:
            ctx.on_change(c, best)
        if _finished(ctx, c):
            return c
        if c.finished + c.running >= target:  # queued trials (re-runs of dead ones) are ours to take
            if not waiting_said:
                reporter.message(f"waiting for {c.running} trial(s) held by other workers")
                waiting_said = True
            time.sleep(ctx.poll_s)
            continue
        waiting_said = False
        _one_trial(ctx, objective, state)


def _finished(ctx: WorkerContext, c: st.Counts) -> bool:
    """Whether the search stops here: enough trials, too many over the bounds, or out of time (saying why)."""
    reporter = ctx.setup.reporter
    if c.done:
        return True
    if c.too_many_infeasible:
        reporter.message(f"{c.infeasible} trials were over the bounds of search.constraints and only {c.finished} within them: "
                         "the search stops; widen the bounds or move the search space toward smaller models")
        return True
    if ctx.deadline is not None and time.monotonic() >= ctx.deadline:
        reporter.message(f"search.timeout reached: no new trials ({c.finished}/{ctx.spec.search.trials} finished)")
        return True
    return False


def _one_trial(ctx: WorkerContext, objective: Callable[[Trial], float | list[float]], state: dict[str, Any]) -> None:
    """Ask, train and tell one trial; promote its model if it is the best; report it."""
    optuna = require("optuna")
    spec, reporter = ctx.spec, ctx.setup.reporter
    state.clear()
    try:
        # Ctrl-C and SIGTERM wait for a safe point: a step boundary or a phase of the trial
        # (see ferbench.run.signals), or the end of the trial; never inside Optuna's tell.
        with deferred_interrupts():
            ctx.study.optimize(objective, n_trials=1, catch=(TrialFailed, SurplusTrial), gc_after_trial=False)
    except BaseException as exc:
        if _declared_dead(ctx, exc, state.get("number")):
            return
        # Ctrl-C, SIGTERM, or a failure outside the trial itself (a full disk while
        # writing the record): the trial did not produce a result, so it runs again.
        failure = storage_failure(exc, ctx.storage)
        if failure is None:
            _requeue_interrupted(ctx.study, state.get("number"))
            raise
        # The study's disk refused a write (Optuna's tell among them): a re-queue is one more
        # write that fails, or trips Optuna's own assertions. The next start settles the
        # trial: finished from its record if it wrote one, re-run otherwise.
        with contextlib.suppress(Exception):
            _requeue_interrupted(ctx.study, state.get("number"))
        raise failure from None
    if state.get("disk"):  # recorded failed and told: stop the run here, in one line
        raise ResultsError(state["disk"])
    number = state.get("number")
    result: TrialResult | None = state.get("result")
    if number is None or result is None:
        return  # surplus: nothing ran
    frozen = next(t for t in ctx.study.get_trials(deepcopy=False) if t.number == number)
    if frozen.state == optuna.trial.TrialState.COMPLETE and frozen.values is not None and st.feasible(frozen) \
            and not st.is_infeasible(frozen):
        promote_best(ctx, number, float(frozen.values[st.primary_index(spec)]))
    c = st.counts(ctx.study, spec.search.trials)
    rec = result.record
    if rec.state == "infeasible":  # nothing ran: no time to count toward the ETA
        reporter.message(f"trial {number} infeasible, not trained: {rec.error}")
    else:
        reporter.trial_finished(number, rec.state, rec.objective, rec.error, st.best_of(ctx.study, spec), c.finished)
        if rec.health is not None and not rec.health.healthy:  # a broken model is said so, in one line
            reporter.message(f"trial {number}: {rec.health.message()}")
