"""A run rebuilt from its study alone: ``ferbench report --storage URL --spec SPEC``.

Every finished trial carries its record in the study, and the study the run's
facts (:mod:`ferbench.run.search.publish`), so the storage that workers on many
hosts shared tells the whole story without any run folder. The spec gives the run
ids (the studies' names). What only the folders hold — the saved predictions
behind bootstrap intervals and paired tests, the models, the per-epoch learning
rates — is not in the study; a report says so.

Imports Optuna (when called), never TensorFlow.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ferbench._lazy import require
from ferbench.errors import ResultsError
from ferbench.plan import PlannedRun, plan_spec
from ferbench.results.records import TrialRecord
from ferbench.results.runs import Run
from ferbench.results.study_attrs import ATTR_RUN, record_from_attrs, run_from_facts
from ferbench.run.search import accounting as st
from ferbench.run.search.storage import journal_path, open_storage, sqlite_path
from ferbench.secrets import hide_password
from ferbench.spec.types import Spec

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

#: Optuna's states by the record's names.
_STATES = st.STUDY_STATES


class NoStudy(ResultsError):
    """The storage has no study of a planned run (it has not started)."""


def study_runs(url: str, spec: Spec, missing: list[str] | None = None) -> list[Run]:
    """Every run of ``spec``'s plan, rebuilt from its study in the storage at ``url``.

    ``missing``: collects why a run of the plan has no study yet (a matrix cell not
    started) instead of raising :class:`NoStudy`.
    """
    for file in (sqlite_path(url), journal_path(url)):
        if file is not None and not file.exists():  # opening would create an empty storage
            raise ResultsError(f"{hide_password(url)}: no such study storage")
    storage = open_storage(url)
    runs = []
    for planned in plan_spec(spec, gpus=[], storage=url).runs:
        try:
            runs.append(study_run(storage, planned, hide_password(url)))
        except NoStudy as exc:
            if missing is None:
                raise
            missing.append(str(exc))
    return runs


def _load(storage: Any, planned: PlannedRun, shown: str) -> optuna.Study:
    lib = require("optuna")
    try:
        study: optuna.Study = lib.load_study(study_name=planned.run_id, storage=storage, sampler=lib.samplers.RandomSampler())
    except KeyError:
        raise NoStudy(f"no study named {planned.run_id} ({planned.spec.name}) in {shown}: has the run started? "
                           "The study is named after the run id, which `ferbench plan SPEC` shows (same spec, same --set)") from None
    have = study.user_attrs.get("spec_hash")
    if have is not None and have != planned.spec_hash:
        raise ResultsError(f"study {planned.run_id} in {shown} was made from a different spec (hash {str(have)[:12]}, "
                           f"this spec {planned.spec_hash[:12]})")
    return study


def _utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # Optuna keeps naive local times


def _agrees(t: FrozenTrial, rec: TrialRecord, run_id: str) -> str | None:
    if rec.run_id != run_id or rec.trial != t.number:
        return f"it carries the record of run {rec.run_id} trial {rec.trial}"
    if t.state.name != _STATES[rec.state]:
        return f"the study says {t.state.name.lower()}, the record {rec.state}"
    return None


def study_run(storage: Any, planned: PlannedRun, shown: str) -> Run:
    """One run from its study: the run's facts, every counted trial's record, counts and best trial from the study."""
    study = _load(storage, planned, shown)
    where = f"study {planned.run_id} in {shown}"
    facts = study.user_attrs.get(ATTR_RUN)
    if facts is None:
        raise ResultsError(f"{where} carries no ferbench results (its trials ran before ferbench kept them in the study): "
                           "report its run folders instead: `ferbench report FOLDER...`")
    spec = planned.spec
    trials = study.get_trials(deepcopy=False)
    counted = st.counted_trials(trials)
    retried, _ = st.ignored_numbers(trials)
    infeasible = [t for t in trials if st.is_infeasible(t) and t.number not in retried]  # recorded, never trained
    records: list[TrialRecord] = []
    without: list[int] = []
    problems: list[str] = []
    for t in sorted([*counted, *infeasible], key=lambda t: t.number):
        if not t.state.is_finished():
            continue
        rec = record_from_attrs(t.user_attrs, f"{where} trial {t.number}")
        if rec is None:
            without.append(t.number)
            continue
        why = _agrees(t, rec, planned.run_id)
        if why is not None:
            problems.append(f"{where} trial {t.number}: {why}")
        else:
            records.append(rec)
    if problems:
        raise ResultsError("\n".join(problems))
    c = st.counts(study, spec.search.trials)
    best = st.best_of(study, spec)
    if best is not None and best[0] in without:
        raise ResultsError(f"{where}: its best trial {best[0]} carries no ferbench record (it ran before ferbench kept records "
                           "in the study): report the run folders instead: `ferbench report FOLDER...`")
    starts = [t.datetime_start for t in counted if t.datetime_start is not None]
    ends = [t.datetime_complete for t in counted if t.datetime_complete is not None]
    wall = (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0
    status = ("complete" if c.complete > 0 else "failed") if c.done else "running"
    hosts = [str((r.environment or {}).get("host")) for r in records if (r.environment or {}).get("host")]
    info = run_from_facts(
        facts, where, status=status, updated=_utc(max(ends)) if ends else facts.get("created"), wall_time_s=max(wall, 0.0),
        trials=c.as_record().to_dict(),
        best_trial=None if best is None else best[0], devices=[], hosts=list(dict.fromkeys(hosts)),
        **({"pareto": st.pareto_numbers(study, spec)} if spec.search.multi else {}),
    )
    if info.run_id != planned.run_id or info.spec_hash != planned.spec_hash:
        raise ResultsError(f"{where}: its {ATTR_RUN} attribute is of run {info.run_id}, not {planned.run_id}")
    warnings = []
    if without:
        warnings.append(f"trial(s) {', '.join(map(str, without))} of {where} carry no ferbench record (they finished before "
                        "ferbench kept records in the study): left out here; their run folders hold them")
    return Run(info=info, trials=tuple(sorted(records, key=lambda r: r.trial)), spec=dict(spec.raw),
               warnings=tuple(warnings), source=where)
