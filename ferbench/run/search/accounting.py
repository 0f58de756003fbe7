"""Exact trial accounting of a study shared by any number of workers, and recovery of dead trials.

Trial accounting (what counts toward ``search.trials``)
-------------------------------------------------------
The spec's ``search.trials`` is the study's total across restarts and workers.

* A trial that finished — complete, pruned, or failed with an error of its own
  (NaN loss, an exception, out of memory) — counts. A failed configuration is a
  result; re-running it would fail again.
* A trial whose process died (SIGKILL, power loss, Ctrl-C, a lost worker) does
  not count. It is marked failed and re-queued with the same parameters; the
  re-run carries the user attribute ``ferbench_retry_of = <number>`` and takes
  the dead trial's place. Its record never reaches ``trials/``.
* A trial that starts when the quota is already taken by other trials (a race
  between workers) is marked ``ferbench_surplus`` and dropped before training.
* A trial over a bound of ``search.constraints`` on parameters or MACs
  (``ferbench_infeasible``) never trains and does not count: the study runs on
  until it holds ``search.trials`` trials that did. Optuna keeps it as a complete
  trial with its constraint values, so the sampler learns to avoid such models.

Ranking counted trials by number and letting only the first ``target`` train
makes the total exact with any number of workers, without a lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ferbench._lazy import require
from ferbench.results.records import TrialCounts
from ferbench.spec.types import Spec

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

#: User attributes ferbench sets on Optuna trials.
ATTR_RETRY_OF = "ferbench_retry_of"  # on a re-run: the number of the dead trial it replaces
ATTR_ROOT = "ferbench_root"  # on a re-run: the first trial of the chain (its seed is reused)
ATTR_SURPLUS = "ferbench_surplus"  # started after the quota was full; never trained
ATTR_ERROR = "ferbench_error"  # why a trial failed (NaN loss, exception, OOM)
ATTR_INTERRUPTED = "ferbench_interrupted"  # stopped by Ctrl-C / SIGTERM; re-queued
ATTR_OWNER = "ferbench_owner"  # the worker running the trial (see ferbench.run.search.owners)
ATTR_FROM_RECORD = "ferbench_from_record"  # added to the study from its record.json (see ferbench.run.search.reconcile)
ATTR_PLACEHOLDER = "ferbench_placeholder"  # fills a number no record holds when a study is rebuilt; never trained
ATTR_INFEASIBLE = "ferbench_infeasible"  # over a bound on parameters or MACs: never trained, not counted

#: A record's state -> the state of its trial in the study (an infeasible trial is complete there, with its constraint values).
STUDY_STATES = {"complete": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL", "infeasible": "COMPLETE"}

#: Infeasible trials per trial of ``search.trials`` after which a worker stops: a space almost wholly
#: over its bounds would otherwise be sampled for ever (each costs milliseconds, so the cap is generous).
MAX_INFEASIBLE_PER_TRIAL = 200

#: A RUNNING trial of a journal storage that never named its owner is dead after this long.
UNOWNED_GRACE_S = 120.0


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Re-queue a dead trial with the same parameters (Optuna's stale-trial callback)."""
    if trial.user_attrs.get(ATTR_SURPLUS) or trial.user_attrs.get(ATTR_ERROR):
        return  # never trained, or failed on its own: nothing to re-run
    if any(int(t.user_attrs.get(ATTR_RETRY_OF, -1)) == trial.number for t in study.get_trials(deepcopy=False)):
        return  # another worker re-queued it already
    root = trial.user_attrs.get(ATTR_ROOT, trial.number)
    study.enqueue_trial(dict(trial.params), user_attrs={ATTR_RETRY_OF: trial.number, ATTR_ROOT: root})


def _age_s(trial: FrozenTrial) -> float:
    start = trial.datetime_start
    return 0.0 if start is None else (datetime.now() - start).total_seconds()


def recover_dead(study: optuna.Study, *, exclusive: bool, owners: Path | None = None) -> list[int]:
    """Mark trials of dead processes failed and re-queue them; return their numbers.

    ``exclusive``: this process holds the run's lock and the storage is the run's
    own, so every RUNNING trial belongs to a dead process and is recovered now.
    ``owners``: the folder of the workers' owner locks of a storage without
    heartbeats (a journal file): a RUNNING trial whose owner's lock is free is
    dead (see :mod:`ferbench.run.search.owners`). Otherwise only heartbeat-stale trials
    are (Optuna's ``fail_stale_trials``).
    """
    optuna = require("optuna")
    TrialState = optuna.trial.TrialState
    if not exclusive and owners is not None:
        from ferbench.run.search.owners import owner_alive

        def dead(t: FrozenTrial) -> bool:
            owner = t.user_attrs.get(ATTR_OWNER)
            if owner is None:  # asked, but died before naming itself (a narrow window)
                return _age_s(t) > UNOWNED_GRACE_S
            return not owner_alive(owners, str(owner))

        return _fail_and_requeue(study, [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if dead(t)])
    if not exclusive:
        before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        retried, _ = ignored_numbers(trials)
        return sorted(n for n in before & retried)
    return _fail_and_requeue(study, study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def _fail_and_requeue(study: optuna.Study, trials: Iterable[FrozenTrial]) -> list[int]:
    """Fail each trial (unless another process did first) and re-queue it."""
    optuna = require("optuna")
    TrialState = optuna.trial.TrialState
    recovered = []
    storage = study._storage  # Optuna has no public API to fail another process's trial
    for t in trials:
        try:
            if storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                requeue(study, t)
                recovered.append(t.number)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass
    return recovered


@dataclass(frozen=True)
class Counts:
    """Where a study stands against its target (see the module docstring)."""

    target: int
    complete: int
    pruned: int
    failed: int
    running: int
    waiting: int
    retried: tuple[int, ...]  # numbers of dead trials replaced by re-runs
    surplus: tuple[int, ...]
    infeasible: int = 0  # over a bound on parameters or MACs: never trained, not counted

    @property
    def too_many_infeasible(self) -> bool:
        """So many trials were over the bounds that the search gives up (see :data:`MAX_INFEASIBLE_PER_TRIAL`)."""
        return self.infeasible >= MAX_INFEASIBLE_PER_TRIAL * max(self.target, 1)

    @property
    def finished(self) -> int:
        return self.complete + self.pruned + self.failed

    @property
    def taken(self) -> int:
        """Slots held by finished, running and queued trials."""
        return self.finished + self.running + self.waiting

    @property
    def done(self) -> bool:
        return self.finished >= self.target

    def as_record(self) -> TrialCounts:
        """run.json's ``trials`` block."""
        return TrialCounts(target=self.target, complete=self.complete, failed=self.failed, pruned=self.pruned,
                           infeasible=self.infeasible)


def ignored_numbers(trials: Iterable[FrozenTrial]) -> tuple[set[int], set[int]]:
    """``(retried, never trained)``: numbers of dead trials replaced by re-runs, and of surplus and placeholder trials."""
    trials = list(trials)
    retried = {int(t.user_attrs[ATTR_RETRY_OF]) for t in trials if ATTR_RETRY_OF in t.user_attrs}
    never = {t.number for t in trials if t.user_attrs.get(ATTR_SURPLUS) or t.user_attrs.get(ATTR_PLACEHOLDER)}
    return retried, never


def is_infeasible(trial: FrozenTrial) -> bool:
    """Judged over a bound on parameters or MACs before training (never trained, not counted)."""
    return bool(trial.user_attrs.get(ATTR_INFEASIBLE))


def counted_trials(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    """Trials that count toward the target, by number (dead-and-re-queued, surplus and infeasible left out)."""
    trials = list(trials)
    retried, surplus = ignored_numbers(trials)
    return sorted((t for t in trials if t.number not in retried and t.number not in surplus and not is_infeasible(t)),
                  key=lambda t: t.number)


def counts(study: optuna.Study, target: int) -> Counts:
    """Count the study's trials against ``target``."""
    optuna = require("optuna")
    S = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    retried, surplus = ignored_numbers(trials)
    n = {s: 0 for s in S}
    for t in counted_trials(trials):
        n[t.state] += 1
    infeasible = sum(1 for t in trials if is_infeasible(t) and t.number not in retried)
    return Counts(target=target, complete=n[S.COMPLETE], pruned=n[S.PRUNED], failed=n[S.FAIL],
                  running=n[S.RUNNING], waiting=n[S.WAITING], retried=tuple(sorted(retried)), surplus=tuple(sorted(surplus)),
                  infeasible=infeasible)


def within_quota(study: optuna.Study, number: int, target: int) -> bool:
    """Whether trial ``number`` is among the first ``target`` counted trials."""
    ranked = [t.number for t in counted_trials(study.get_trials(deepcopy=False))]
    return number in ranked[:target]


def feasible(trial: FrozenTrial) -> bool:
    """Within every bound of ``search.constraints``: each of its constraint values is 0 or less."""
    return all(v <= 0 for v in trial.constraints.values())


def best_complete(study: optuna.Study, direction: str, index: int = 0) -> tuple[int, float] | None:
    """``(number, value)`` of the best complete, feasible trial on objective ``index``; ties go to the earlier trial.

    In a multi-objective study ``index`` is the objective that picks the run's best trial
    (see :func:`primary_index`); its Pareto set is :func:`pareto_numbers`.
    """
    optuna = require("optuna")
    done = [(t.number, float(t.values[index])) for t in counted_trials(study.get_trials(deepcopy=False))
            if t.state == optuna.trial.TrialState.COMPLETE and t.values is not None and feasible(t)]
    if not done:
        return None
    sign = 1.0 if direction == "minimize" else -1.0
    return min(done, key=lambda nv: (sign * nv[1], nv[0]))


def primary_index(spec: Spec) -> int:
    """The position, among the study's objectives, of the metric that picks the best trial."""
    return next(i for i, g in enumerate(spec.search.goals) if g.metric == spec.search.metric)


def best_of(study: optuna.Study, spec: Spec) -> tuple[int, float] | None:
    """The run's best trial: the best complete, feasible trial on the spec's validation metric."""
    return best_complete(study, spec.search.direction, primary_index(spec))


def pareto_numbers(study: optuna.Study, spec: Spec) -> list[int]:
    """A multi-objective run's Pareto set: counted, complete, feasible trials no other dominates (ascending)."""
    from ferbench.results.pareto import pareto_front

    optuna = require("optuna")
    points = [(t.number, list(t.values)) for t in counted_trials(study.get_trials(deepcopy=False))
              if t.state == optuna.trial.TrialState.COMPLETE and t.values is not None and feasible(t)]
    return pareto_front(points, [g.direction for g in spec.search.goals])


def trial_seed(run_seed: int, root: int) -> int:
    """The seed of a trial: fixed by the run's seed and the trial's root number.

    A re-run of a dead trial has a new number but the same root, so it trains
    with the same seed as the trial it replaces.
    """
    digest = hashlib.sha256(f"{run_seed}:{root}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF

