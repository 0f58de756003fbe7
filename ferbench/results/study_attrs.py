"""The results a study carries: what ferbench puts in an Optuna study's user attributes.

Workers on hosts that share no filesystem write their records into folders of
their own, but they all share the study. So every finished trial carries its
record as well — the very object of its ``record.json`` — and the study carries
the run's facts (run.json without what changes as the run goes on). A report can
then be rebuilt from the storage alone, and optuna-dashboard shows ferbench's
metrics for every trial from every host (docs/results-format.md, "The study").

Plain data in, plain data out: nothing here imports Optuna. The same
:meth:`TrialRecord.from_dict` and :meth:`RunRecord.from_dict` read these
attributes as read the files, after the same schema checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ferbench.errors import ResultsError
from ferbench.results.records import RunRecord, TrialRecord
from ferbench.results.schema import record_problems, run_problems

#: Trial attribute: the trial's record, exactly the object of its record.json.
ATTR_RECORD = "ferbench_record"
#: Study attribute: run.json's facts that do not change as the run goes on (see :data:`RUN_FACTS`).
ATTR_RUN = "ferbench_run"
#: Trial attributes repeating a few numbers of the record as scalars, for optuna-dashboard's trial table
#: (it shows a scalar attribute as a column of its own, an object as one line of JSON).
SUMMARY = {
    "ferbench_validation_accuracy": ("validation", "accuracy"),
    "ferbench_test_accuracy": ("test", "accuracy"),
    "ferbench_test_f1_macro": ("test", "f1_macro"),
}
ATTR_PARAMS = "ferbench_params"
ATTR_HOST = "ferbench_host"

#: run.json keys a study keeps: who the run is, its data and objective, and where it started.
RUN_FACTS = ("schema_version", "run_id", "spec_name", "spec_hash", "created", "matrix_cell", "seed", "objective",
             "objectives", "dataset", "environment", "storage")


def trial_attrs(record: TrialRecord) -> dict[str, Any]:
    """The user attributes a finished trial carries: its record, and a few of its numbers for the dashboard."""
    attrs: dict[str, Any] = {ATTR_RECORD: record.to_dict()}
    for key, (split, metric) in SUMMARY.items():
        block = record.metrics(split)
        if block is not None:
            attrs[key] = getattr(block, metric)
    if record.cost.params is not None:
        attrs[ATTR_PARAMS] = record.cost.params
    host = (record.environment or {}).get("host")
    if host:
        attrs[ATTR_HOST] = str(host)
    return attrs


def record_from_attrs(attrs: Mapping[str, Any], where: str) -> TrialRecord | None:
    """The record a trial carries, validated; ``None`` when it carries none (it ran before ferbench stored them).

    ``where`` names the trial in errors (``study abc trial 3``).
    """
    data = attrs.get(ATTR_RECORD)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ResultsError(f"{where}: user attribute {ATTR_RECORD} is not a JSON object")
    bad = record_problems(data)
    if bad:
        raise ResultsError("\n".join(f"{where}: {ATTR_RECORD}: {p}" for p in bad))
    return TrialRecord.from_dict(data)


def run_facts(record: RunRecord) -> dict[str, Any]:
    """What the study keeps of run.json (:data:`RUN_FACTS`)."""
    d = record.to_dict()
    return {k: d[k] for k in RUN_FACTS if k in d}


def run_from_facts(facts: Mapping[str, Any], where: str, **now: Any) -> RunRecord:
    """run.json rebuilt from a study's facts and ``now``: what the study says today.

    ``now`` holds the keys the facts leave out (status, updated, wall_time_s,
    trials, best_trial, devices, and optionally hosts); the result is checked
    against the schema like a run.json on disk.
    """
    if not isinstance(facts, Mapping):
        raise ResultsError(f"{where}: user attribute {ATTR_RUN} is not a JSON object")
    data = {**{k: v for k, v in facts.items() if k in RUN_FACTS}, **now}
    bad = run_problems(data)
    if bad:
        raise ResultsError("\n".join(f"{where}: {ATTR_RUN}: {p}" for p in bad))
    return RunRecord.from_dict(data)
