"""The records on disk are the truth: make a run's study agree with them before any trial runs.

``ferbench run`` resumes a run from its folder. Its finished ``record.json`` files
are never rewritten and their trials never retrained, whatever happened to the
study: it may have been deleted, be empty, or be another storage altogether
(``--storage``). Before the workers start, with the run folder's lock held:

* a finished record the study lacks is added to it (``study.add_trial``), under
  the same trial number — gaps in the numbering are filled with placeholder
  trials that count for nothing — so the sampler learns from it and the trial
  counts toward ``search.trials``;
* a trial the study still calls running but whose record is on disk (its process
  died between writing the record and telling Optuna) is finished from the record;
* either way the trial carries its record in its user attributes, as every trial a
  worker finishes does (:mod:`ferbench.run.search.publish`);
* a finished trial of the folder's own study whose record is missing or damaged
  is re-run with the same parameters and seed (the damaged folder is moved to
  ``.retired/``, never deleted); in a storage other hosts share, a record may
  live on another host, so nothing is re-run;
* a trial the study gave back (stopped between writing its record and telling
  Optuna, so marked failed and queued again) whose record is on disk: the study
  counts it as not run, so its record is moved to ``.retired/`` (never deleted)
  and the queued re-run trains it with the same parameters and seed;
* a study that disagrees with a record (other parameters, state or value under
  the same number) cannot be reconciled: :class:`ResultsError`, exit status 2,
  with the ways forward.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ferbench._lazy import require
from ferbench.errors import ResultsError
from ferbench.results.paths import RunPaths
from ferbench.results.read import read_trials
from ferbench.results.records import TrialRecord
from ferbench.results.study_attrs import trial_attrs
from ferbench.run.search import accounting as st
from ferbench.run.search.values import constraint_values, study_values
from ferbench.run.train.space import distributions
from ferbench.spec.types import Spec

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial


@dataclass
class Reconciled:
    """What reconciling did; each list holds trial numbers."""

    added: list[int] = field(default_factory=list)  # records added to a study that lacked them
    finished: list[int] = field(default_factory=list)  # running trials finished from their record
    rerun: list[int] = field(default_factory=list)  # finished trials whose record was missing or damaged
    elsewhere: list[int] = field(default_factory=list)  # finished trials whose record is not in this folder
    retired: list[str] = field(default_factory=list)  # damaged trial folders moved aside
    given_back: list[int] = field(default_factory=list)  # records of trials the study had already given back

    def messages(self) -> list[str]:
        out = []
        if self.added:
            out.append(f"the study lacked {len(self.added)} finished trial(s) of this folder ({_short(self.added)}); "
                       "they were added to it from their records, not retrained")
        if self.finished:
            out.append(f"trial(s) {_short(self.finished)} wrote their record but stopped before the study knew; "
                       "finished from the record")
        if self.rerun:
            out.append(f"trial(s) {_short(self.rerun)} finished but their record is missing or damaged; "
                       "they re-run with the same parameters and seed" + (f" (moved aside: {', '.join(self.retired)})" if self.retired else ""))
        if self.given_back:
            out.append(f"trial(s) {_short(self.given_back)} wrote their record after the study had given them back "
                       "(stopped before Optuna was told); they re-run with the same parameters and seed, "
                       "their records kept in .retired/")
        if self.elsewhere:
            out.append(f"{len(self.elsewhere)} finished trial(s) of the study have no record in this folder "
                       f"({_short(self.elsewhere)}): another host holds them")
        return out


def _short(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:10]))
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


_STATES = st.STUDY_STATES


def _same(spec: Spec, trial: FrozenTrial, rec: TrialRecord) -> str | None:
    """Why a finished study trial and a record of the same number disagree, or ``None``."""
    if trial.state.name != _STATES[rec.state]:
        return f"the study says {trial.state.name.lower()}, the record {rec.state}"
    if dict(trial.params) != dict(rec.params):
        return f"the study's parameters {dict(trial.params)} differ from the record's {dict(rec.params)}"
    if rec.state == "failed":
        return None
    if st.is_infeasible(trial) != (rec.state == "infeasible"):
        return f"the study says {'infeasible' if st.is_infeasible(trial) else 'trained'}, the record {rec.state}"
    want, have = _told(spec, rec) or [], list(trial.values or [])
    if len(have) != len(want) or not all(_same_value(a, b) for a, b in zip(have, want)):
        return f"the study's value {_shown(have)} differs from the record's objective {_shown(want)}"
    return None


def _shown(values: list[float]) -> object:
    return values[0] if len(values) == 1 else (values or None)


def _told(spec: Spec, rec: TrialRecord) -> list[float] | None:
    """What Optuna was told of a finished record: nothing of a failed one, its value(s) otherwise."""
    if rec.state == "failed":
        return None
    if rec.state == "pruned" and not spec.search.multi:  # the last value reported, if any
        return None if rec.objective is None else [float(rec.objective)]
    value = study_values(spec, rec)
    return list(value) if isinstance(value, list) else [value]


def _same_value(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def _frozen(spec: Spec, rec: TrialRecord) -> FrozenTrial:
    """The study's form of a finished record."""
    optuna = require("optuna")
    state = getattr(optuna.trial.TrialState, _STATES[rec.state])
    metric = () if spec.search.multi else rec.history.get(spec.search.metric, ())  # no intermediate values with several
    steps = {i + 1: float(v) for i, v in enumerate(metric) if v is not None and math.isfinite(v)}
    attrs: dict[str, Any] = {st.ATTR_FROM_RECORD: True, **trial_attrs(rec)}
    if rec.state == "failed":
        attrs[st.ATTR_ERROR] = rec.error or "failed"  # failed on its own: never re-run
    if rec.state == "infeasible":
        attrs[st.ATTR_INFEASIBLE] = True
    dists = distributions(spec.search.space)
    told = _told(spec, rec)
    frozen: FrozenTrial = optuna.trial.create_trial(
        params=dict(rec.params), distributions={k: dists[k] for k in rec.params if k in dists},
        values=told, state=state, user_attrs=attrs, intermediate_values=steps,
        constraints=constraint_values(rec) or None,
    )
    return frozen


def _placeholder() -> FrozenTrial:
    optuna = require("optuna")
    frozen: FrozenTrial = optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL,
                                                                 user_attrs={st.ATTR_PLACEHOLDER: True})
    return frozen


def _retire(paths: RunPaths, number: int, why: str = "damaged") -> str | None:
    """Move a trial's folder to ``.retired/<n>-<why>-<time>`` (never deleted); where it went, relative to the run."""
    folder = paths.trial(number)
    if not folder.exists():
        return None
    dest = paths.retired / f"{number:04d}-{why}-{int(time.time())}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder), str(dest))
    return str(dest.relative_to(paths.root))


def reconcile(study: optuna.Study, spec: Spec, paths: RunPaths, run_id: str, *, owns_storage: bool,
              storage_shown: str) -> Reconciled:
    """Bring ``study`` in line with the finished records in ``paths`` (see the module docstring).

    ``owns_storage``: the study lives in the run folder and this process holds the
    run's lock, so every running trial is dead and every finished trial's record
    belongs here.
    """
    records, problems = read_trials(paths, run_id)
    by_number: Mapping[int, TrialRecord] = {r.trial: r for r in records}
    damaged = {int(folder.name): text for folder, text in problems}
    trials = study.get_trials(deepcopy=False)
    done = Reconciled()
    _agree(study, spec, paths, trials, records, done, owns_storage=owns_storage, storage_shown=storage_shown)
    by_number = {n: r for n, r in by_number.items() if n not in done.given_back}
    if _add_missing(study, spec, len(trials), by_number, done):
        trials = study.get_trials(deepcopy=False)
    _rerun_unrecorded(study, paths, trials, by_number, damaged, done, owns_storage=owns_storage)
    return done


def _agree(study: optuna.Study, spec: Spec, paths: RunPaths, trials: Sequence[FrozenTrial], records: Sequence[TrialRecord],
           done: Reconciled, *, owns_storage: bool, storage_shown: str) -> None:
    """Trials the study holds under a record's number: told from it, given back, or refused where they disagree."""
    optuna = require("optuna")
    S = optuna.trial.TrialState
    conflicts = []
    for rec in records:
        if rec.trial >= len(trials):
            continue
        t = trials[rec.trial]
        if t.state == S.RUNNING and owns_storage:
            _tell_from_record(study, spec, t, rec)
            done.finished.append(rec.trial)
        elif _given_back(t, rec):
            _give_back_record(study, paths, t, done)
        elif t.state.is_finished():
            why = "the study holds a trial that never trained under this number" if _ignored(t) else _same(spec, t, rec)
            if why is not None:
                conflicts.append(f"trial {rec.trial}: {why}")
    if conflicts:
        raise ResultsError(
            f"{paths.root}: the study in {storage_shown} disagrees with the records on disk, which are the truth:\n  "
            + "\n  ".join(conflicts[:10])
            + "\nGive the storage this run was made with (run.json's storage), or start over with `ferbench run SPEC --fresh` "
              "(the old folder is moved to .old/, never deleted)."
        )


def _add_missing(study: optuna.Study, spec: Spec, held: int, by_number: Mapping[int, TrialRecord], done: Reconciled) -> bool:
    """Records the study (``held`` trials) lacks, appended under their own numbers (placeholders fill the gaps); any added."""
    missing = sorted(n for n in by_number if n >= held)
    next_number = held
    for n in missing:
        while next_number < n:
            study.add_trial(_placeholder())
            next_number += 1
        study.add_trial(_frozen(spec, by_number[n]))
        done.added.append(n)
        next_number += 1
    return bool(missing)


def _rerun_unrecorded(study: optuna.Study, paths: RunPaths, trials: Sequence[FrozenTrial], by_number: Mapping[int, TrialRecord],
                      damaged: Mapping[int, str], done: Reconciled, *, owns_storage: bool) -> None:
    """Finished trials without a readable record here: another host's, or retired and queued to run again."""
    retried, _ = st.ignored_numbers(trials)
    for t in st.counted_trials(trials):
        if not t.state.is_finished() or t.number in by_number:
            continue
        if not owns_storage:
            done.elsewhere.append(t.number)
            continue
        moved = _retire(paths, t.number) if t.number in damaged or paths.trial(t.number).exists() else None
        if moved:
            done.retired.append(moved)
        if t.number not in retried:
            root = int(t.user_attrs.get(st.ATTR_ROOT, t.number))
            study.enqueue_trial(dict(t.params), user_attrs={st.ATTR_RETRY_OF: t.number, st.ATTR_ROOT: root})
        done.rerun.append(t.number)


def _given_back(t: FrozenTrial, rec: TrialRecord) -> bool:
    """The study marked the trial failed without a result (interrupted, queued again) but its record finished it."""
    optuna = require("optuna")
    return (t.state == optuna.trial.TrialState.FAIL and rec.state != "failed" and st.ATTR_ERROR not in t.user_attrs
            and not _ignored(t))


def _give_back_record(study: optuna.Study, paths: RunPaths, t: FrozenTrial, done: Reconciled) -> None:
    """Move a given-back trial's record to ``.retired/`` and make sure its re-run is queued."""
    moved = _retire(paths, t.number, "given-back")
    if moved:
        done.retired.append(moved)
    done.given_back.append(t.number)
    st.requeue(study, t)  # queued already when it was interrupted; again only where that was lost


def _ignored(t: FrozenTrial) -> bool:
    return bool(t.user_attrs.get(st.ATTR_SURPLUS) or t.user_attrs.get(st.ATTR_PLACEHOLDER))


def _tell_from_record(study: optuna.Study, spec: Spec, trial: FrozenTrial, rec: TrialRecord) -> None:
    """Finish a dead process's running trial with what its record says."""
    optuna = require("optuna")
    S = optuna.trial.TrialState
    storage = study._storage  # Optuna has no public API to finish another process's trial
    for key, value in trial_attrs(rec).items():
        storage.set_trial_user_attr(trial._trial_id, key, value)
    if rec.state == "failed":
        storage.set_trial_user_attr(trial._trial_id, st.ATTR_ERROR, rec.error or "failed")
        storage.set_trial_state_values(trial._trial_id, state=S.FAIL)
        return
    if rec.state == "infeasible":
        storage.set_trial_user_attr(trial._trial_id, st.ATTR_INFEASIBLE, True)
    live = optuna.Trial(study, trial._trial_id)  # the public way to set a running trial's constraint values
    for key, value in constraint_values(rec).items():
        live.set_constraint(key, value)
    storage.set_trial_state_values(trial._trial_id, state=S.PRUNED if rec.state == "pruned" else S.COMPLETE, values=_told(spec, rec))
