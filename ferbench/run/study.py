"""The Optuna study of a run: sampler, pruner, and exact trial accounting (storages: :mod:`ferbench.run.storage`).

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

Ranking counted trials by number and letting only the first ``target`` train
makes the total exact with any number of workers, without a lock.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from ferbench._lazy import require
from ferbench.spec.types import PrunerSpec, SamplerSpec, SearchParam, Spec

#: User attributes ferbench sets on Optuna trials.
ATTR_RETRY_OF = "ferbench_retry_of"  # on a re-run: the number of the dead trial it replaces
ATTR_ROOT = "ferbench_root"  # on a re-run: the first trial of the chain (its seed is reused)
ATTR_SURPLUS = "ferbench_surplus"  # started after the quota was full; never trained
ATTR_ERROR = "ferbench_error"  # why a trial failed (NaN loss, exception, OOM)
ATTR_INTERRUPTED = "ferbench_interrupted"  # stopped by Ctrl-C / SIGTERM; re-queued
ATTR_OWNER = "ferbench_owner"  # the worker running the trial (see ferbench.run.owners)

#: A RUNNING trial of a journal storage that never named its owner is dead after this long.
UNOWNED_GRACE_S = 120.0


def sampler_seed(seed: int, *, stream: int = 0, resumed_at: int = 0) -> int:
    """The seed a sampler instance gets.

    A fresh single-worker run uses the spec's seed as is. A second worker
    (``stream``) or a restart after ``resumed_at`` trials gets a seed derived from
    it: otherwise it would replay the same random draws and propose parameters
    the study has already tried.
    """
    if stream == 0 and resumed_at == 0:
        return int(seed)
    digest = hashlib.sha256(f"{seed}:{stream}:{resumed_at}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def effective_constant_liar(spec: SamplerSpec, parallel: bool) -> bool:
    """TPE's ``constant_liar``: the spec's value, turned on when several workers share the study.

    With the liar, a running trial counts as a bad result while the sampler
    decides, so parallel workers do not all propose the same promising point.
    """
    return bool(spec.options.get("constant_liar", False)) or (parallel and spec.name == "tpe")


def make_sampler(spec: SamplerSpec, space: tuple[SearchParam, ...], run_seed: int, *,
                 stream: int = 0, resumed_at: int = 0, parallel: bool = False) -> Any:
    """The spec's sampler, every option passed explicitly and seeded.

    Optuna's defaults change between versions (Optuna 5 turned TPE's
    ``multivariate`` and ``constant_liar`` on), so nothing is left to them.
    See :func:`sampler_seed` for ``stream`` and ``resumed_at``. QMC and grid
    samplers index their sequence by trial, so they keep the spec's seed.
    ``parallel``: several workers share the study (TPE then lies constantly).
    """
    optuna = require("optuna")
    opts = dict(spec.options)
    seed = opts.get("seed")
    seed = int(run_seed if seed is None else seed)
    if spec.name not in ("qmc", "grid"):
        seed = sampler_seed(seed, stream=stream, resumed_at=resumed_at)
    s = optuna.samplers
    if spec.name == "tpe":
        kwargs: dict[str, Any] = dict(
            seed=seed,
            multivariate=bool(opts.get("multivariate", False)),
            group=bool(opts.get("group", False)),
            constant_liar=effective_constant_liar(spec, parallel),
            n_startup_trials=int(opts.get("n_startup_trials", 10)),
            n_ei_candidates=int(opts.get("n_ei_candidates", 24)),
        )
        # Deprecated since Optuna 4.9 with default False: passed only when switched on.
        if opts.get("consider_endpoints"):
            kwargs["consider_endpoints"] = True
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # consider_endpoints' deprecation
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # group
            return s.TPESampler(**kwargs)
    if spec.name == "random":
        return s.RandomSampler(seed=seed)
    if spec.name == "grid":
        from ferbench.run.space import grid_space

        return s.GridSampler(grid_space(space), seed=seed)
    if spec.name == "qmc":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return s.QMCSampler(seed=seed, scramble=True, independent_sampler=s.RandomSampler(seed=seed))
    if spec.name == "cmaes":
        require("cmaes")
        return s.CmaEsSampler(seed=seed, n_startup_trials=int(opts.get("n_startup_trials", 1)),
                              independent_sampler=s.RandomSampler(seed=seed))
    raise ValueError(f"unknown sampler {spec.name!r}")


def make_pruner(spec: PrunerSpec, max_epochs: int | None = None) -> Any:
    """The spec's pruner; ``none`` is Optuna's ``NopPruner`` (the thesis setting).

    Steps are epochs (1-based). Hyperband's largest budget is ``max_epochs``, stated
    rather than inferred from the first trial that finishes.
    """
    optuna = require("optuna")
    o = dict(spec.options)
    p = optuna.pruners
    if spec.name == "none":
        return p.NopPruner()
    if spec.name == "median":
        return p.MedianPruner(n_startup_trials=int(o.get("n_startup_trials", 5)), n_warmup_steps=int(o.get("n_warmup_steps", 0)))
    if spec.name == "successive_halving":
        return p.SuccessiveHalvingPruner(min_resource=int(o.get("min_resource", 1)), reduction_factor=int(o.get("reduction_factor", 3)))
    if spec.name == "hyperband":
        return p.HyperbandPruner(min_resource=int(o.get("min_resource", 1)), reduction_factor=int(o.get("reduction_factor", 3)),
                                 max_resource=int(max_epochs) if max_epochs else "auto")
    raise ValueError(f"unknown pruner {spec.name!r}")


def open_study(spec: Spec, *, study_name: str, storage: Any, spec_hash: str, create: bool = True, stream: int = 0,
               parallel: bool = False) -> Any:
    """Create (or load) the run's study; refuse one made from a different spec.

    The study's user attribute ``spec_hash`` ties it to its resolved spec, so a
    worker joining from another host with a different spec is refused.
    ``parallel``: this process is one of several workers (see :func:`make_sampler`).
    """
    optuna = require("optuna")
    from ferbench.errors import ResultsError

    pruner = make_pruner(spec.search.pruner, spec.train.max_epochs)
    if create:
        study = optuna.create_study(storage=storage, pruner=pruner, study_name=study_name,
                                    direction=spec.search.direction, load_if_exists=True)
    else:
        try:
            study = optuna.load_study(study_name=study_name, storage=storage, pruner=pruner)
        except KeyError:
            raise ResultsError(f"no study named {study_name} in this storage{_other_studies(storage, spec.name, spec_hash)}; "
                               "start it with `ferbench run SPEC --storage URL`, or pass --create") from None
    # The sampler is seeded from what the study already holds (see sampler_seed).
    study.sampler = make_sampler(spec.search.sampler, spec.search.space, spec.seed, stream=stream,
                                 resumed_at=len(study.get_trials(deepcopy=False)), parallel=parallel)
    have = study.user_attrs.get("spec_hash")
    if have is None:
        study.set_user_attr("spec_hash", spec_hash)
        study.set_user_attr("spec_name", spec.name)
    elif have != spec_hash:
        raise ResultsError(
            f"study {study_name} was made from a different spec (hash {have[:12]}, this spec {spec_hash[:12]}); "
            "use the same spec (or `ferbench run --fresh` to start over)"
        )
    return study


def _other_studies(storage: Any, spec_name: str, spec_hash: str) -> str:
    """Explain a missing study: the storage holds the same experiment made from another spec."""
    try:
        others = [(s.study_name, str(s.user_attrs.get("spec_hash", ""))) for s in storage.get_all_studies()
                  if s.user_attrs.get("spec_name") == spec_name]
    except Exception:
        return ""
    if not others:
        return ""
    listed = ", ".join(f"{name} (spec hash {h[:12]})" for name, h in others[:5])
    return (f"; it holds {listed} of experiment {spec_name!r}, made from a different spec than this one "
            f"(hash {spec_hash[:12]}): this worker is refused")


def requeue(study: Any, trial: Any) -> None:
    """Re-queue a dead trial with the same parameters (Optuna's stale-trial callback)."""
    if trial.user_attrs.get(ATTR_SURPLUS) or trial.user_attrs.get(ATTR_ERROR):
        return  # never trained, or failed on its own: nothing to re-run
    if any(int(t.user_attrs.get(ATTR_RETRY_OF, -1)) == trial.number for t in study.get_trials(deepcopy=False)):
        return  # another worker re-queued it already
    root = trial.user_attrs.get(ATTR_ROOT, trial.number)
    study.enqueue_trial(dict(trial.params), user_attrs={ATTR_RETRY_OF: trial.number, ATTR_ROOT: root})


def _age_s(trial: Any) -> float:
    start = trial.datetime_start
    return 0.0 if start is None else (datetime.now() - start).total_seconds()


def recover_dead(study: Any, *, exclusive: bool, owners: Path | None = None) -> list[int]:
    """Mark trials of dead processes failed and re-queue them; return their numbers.

    ``exclusive``: this process holds the run's lock and the storage is the run's
    own, so every RUNNING trial belongs to a dead process and is recovered now.
    ``owners``: the folder of the workers' owner locks of a storage without
    heartbeats (a journal file): a RUNNING trial whose owner's lock is free is
    dead (see :mod:`ferbench.run.owners`). Otherwise only heartbeat-stale trials
    are (Optuna's ``fail_stale_trials``).
    """
    optuna = require("optuna")
    TrialState = optuna.trial.TrialState
    if not exclusive and owners is not None:
        from ferbench.run.owners import owner_alive

        def dead(t: Any) -> bool:
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
        retried, _ = _ignored(trials)
        return sorted(n for n in before & retried)
    return _fail_and_requeue(study, study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def _fail_and_requeue(study: Any, trials: Iterable[Any]) -> list[int]:
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


def _ignored(trials: Iterable[Any]) -> tuple[set[int], set[int]]:
    trials = list(trials)
    retried = {int(t.user_attrs[ATTR_RETRY_OF]) for t in trials if ATTR_RETRY_OF in t.user_attrs}
    surplus = {t.number for t in trials if t.user_attrs.get(ATTR_SURPLUS)}
    return retried, surplus


def counted_trials(trials: Iterable[Any]) -> list[Any]:
    """Trials that count toward the target, by number (dead-and-re-queued and surplus left out)."""
    trials = list(trials)
    retried, surplus = _ignored(trials)
    return sorted((t for t in trials if t.number not in retried and t.number not in surplus), key=lambda t: t.number)


def counts(study: Any, target: int) -> Counts:
    """Count the study's trials against ``target``."""
    optuna = require("optuna")
    S = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    retried, surplus = _ignored(trials)
    n = {s: 0 for s in S}
    for t in counted_trials(trials):
        n[t.state] += 1
    return Counts(target=target, complete=n[S.COMPLETE], pruned=n[S.PRUNED], failed=n[S.FAIL],
                  running=n[S.RUNNING], waiting=n[S.WAITING], retried=tuple(sorted(retried)), surplus=tuple(sorted(surplus)))


def within_quota(study: Any, number: int, target: int) -> bool:
    """Whether trial ``number`` is among the first ``target`` counted trials."""
    ranked = [t.number for t in counted_trials(study.get_trials(deepcopy=False))]
    return number in ranked[:target]


def best_complete(study: Any, direction: str) -> tuple[int, float] | None:
    """``(number, value)`` of the best complete trial; ties go to the earlier trial."""
    optuna = require("optuna")
    done = [t for t in counted_trials(study.get_trials(deepcopy=False)) if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        return None
    sign = 1.0 if direction == "minimize" else -1.0
    best = min(done, key=lambda t: (sign * float(t.value), t.number))
    return best.number, float(best.value)


def trial_seed(run_seed: int, root: int) -> int:
    """The seed of a trial: fixed by the run's seed and the trial's root number.

    A re-run of a dead trial has a new number but the same root, so it trains
    with the same seed as the trial it replaces.
    """
    digest = hashlib.sha256(f"{run_seed}:{root}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def wait_for_others(poll_s: float, sleep: Callable[[float], None] = time.sleep) -> None:
    """Pause while other workers hold the remaining slots."""
    sleep(poll_s)
