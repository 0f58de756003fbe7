"""TensorBoard event files per trial under the run folder: epoch scalars, the learning rate, and the HParams view.

``tensorboard --logdir RUN_FOLDER/tensorboard`` compares the trials: each is a run
``trial_<n>`` with its epochs' scalars, and the HParams plugin's table and parallel
coordinates of hyperparameters against the final validation and test metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ferbench._lazy import require
from ferbench.results.paths import RunPaths
from ferbench.results.records import TrialRecord
from ferbench.track.base import Tracker

TENSORBOARD_DIR = "tensorboard"
#: The final numbers shown against hyperparameters in the HParams view.
HPARAM_METRICS = ("validation_loss", "validation_accuracy", "test_accuracy", "test_f1_macro")


def trial_logdir(paths: RunPaths, number: int) -> Path:
    return paths.root / TENSORBOARD_DIR / f"trial_{number:04d}"


def _hparam_value(v: object) -> Any:
    return v if isinstance(v, (bool, int, float, str)) else str(v)


class TensorBoardTracker(Tracker):
    name = "TensorBoard"

    def __init__(self, paths: RunPaths) -> None:
        self.paths = paths
        self._writers: dict[int, Any] = {}

    def _writer(self, number: int) -> Any:
        if number not in self._writers:
            require("tensorboard")
            tf = require("tensorflow")
            self._writers[number] = tf.summary.create_file_writer(str(trial_logdir(self.paths, number)))
        return self._writers[number]

    def trial_started(self, number: int, params: Mapping[str, Any]) -> None:
        self._writer(number)

    def epoch_end(self, number: int, epoch: int, logs: Mapping[str, float]) -> None:
        if number not in self._writers:  # a trial not started by the search (``ferbench verify`` re-training one)
            return
        tf = require("tensorflow")
        with self._writer(number).as_default(step=int(epoch)):
            for key, value in logs.items():
                if value is not None:
                    tf.summary.scalar(f"epoch/{key}", float(value))
        self._writer(number).flush()

    def trial_finished(self, record: TrialRecord, paths: RunPaths) -> None:
        from tensorboard.plugins.hparams import api as hp

        from ferbench.track.mlflow_runs import final_metrics

        tf = require("tensorflow")
        finals = final_metrics(record)
        writer = self._writer(record.trial)
        with writer.as_default(step=int(record.epochs)):
            hp.hparams({k: _hparam_value(v) for k, v in record.hyperparameters.items()}, trial_id=f"trial_{record.trial:04d}")
            for key in HPARAM_METRICS:
                if key in finals:
                    tf.summary.scalar(key, finals[key])
        writer.flush()
        writer.close()
        self._writers.pop(record.trial, None)

    def run_finished(self, status: str) -> None:
        for w in self._writers.values():
            w.close()
        self._writers.clear()
