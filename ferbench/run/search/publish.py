"""The study carries the results: run facts on the study, each finished trial's record on the trial.

Workers on hosts without a shared filesystem write their records into folders of
their own; the study is the one place they all reach. So a worker puts each
finished trial's record (:data:`ferbench.results.study_attrs.ATTR_RECORD`) on the
trial after record.json is on disk and before Optuna is told the trial finished,
and the run's facts (its data, objective, where it started) on the study when it
joins. A report can then be made from the storage alone
(:mod:`ferbench.run.search.readback`), and optuna-dashboard shows the metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferbench.errors import ResultsError
from ferbench.results.records import RunRecord, TrialRecord
from ferbench.results.study_attrs import ATTR_RUN, run_facts, trial_attrs

if TYPE_CHECKING:
    import optuna


def publish_trial(trial: optuna.Trial, record: TrialRecord) -> None:
    """Put a finished trial's record (and a few of its numbers, for the dashboard) on the running trial."""
    for key, value in trial_attrs(record).items():
        trial.set_user_attr(key, value)


def publish_run(study: optuna.Study, record: RunRecord) -> None:
    """Put the run's facts on the study, once; refuse a worker whose data differs from the study's.

    The data fingerprint is a hash of the images and labels themselves, so every
    host that loads the same data computes the same one, wherever the files lie.
    """
    have = study.user_attrs.get(ATTR_RUN)
    if not isinstance(have, dict):
        study.set_user_attr(ATTR_RUN, run_facts(record))
        return
    theirs = str((have.get("dataset") or {}).get("fingerprint", ""))
    mine = record.dataset.fingerprint
    if theirs and theirs != mine:
        host = (have.get("environment") or {}).get("host") or "another host"
        raise ResultsError(f"study {record.run_id}: this host's data ({record.dataset.source}, fingerprint {mine[:12]}) "
                           f"differs from the data the study was started with on {host} (fingerprint {theirs[:12]}); "
                           "every worker of a study must load the same images and labels")
