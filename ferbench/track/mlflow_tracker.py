"""The live MLflow tracker: each trial's epochs as they end, its record's numbers and files when it is written."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ferbench.results.paths import RunPaths
from ferbench.results.records import RunRecord, TrialRecord
from ferbench.track.base import Tracker
from ferbench.track.mlflow_runs import MlflowRuns


class MlflowTracker(Tracker):
    name = "MLflow"

    def __init__(self, runs: MlflowRuns, paths: RunPaths, *, log_model: bool = False) -> None:
        self.runs, self.paths, self.log_model = runs, paths, log_model
        self._trials: dict[int, str] = {}
        self._run: RunRecord | None = None

    def run_started(self, run: RunRecord) -> None:
        self._run = run
        self.runs.parent()

    def trial_started(self, number: int, params: Mapping[str, Any]) -> None:
        self._trials[number] = self.runs.start_trial(number)

    def epoch_end(self, number: int, epoch: int, logs: Mapping[str, float]) -> None:
        if number in self._trials:
            self.runs.log_epoch(self._trials[number], epoch, logs)

    def trial_finished(self, record: TrialRecord, paths: RunPaths) -> None:
        mlflow_id = self._trials.pop(record.trial, None)
        if mlflow_id is None:  # not started here (infeasible before training): the whole trial from its record
            mlflow_id = self.runs.start_trial(record.trial)
            self.runs.log_history(mlflow_id, record)
        self.runs.finish_trial(mlflow_id, record, paths)

    def run_finished(self, status: str) -> None:
        model: Path | None = self.paths.best_model if self.log_model else None
        self.runs.finish_run(self._run, status, model)
