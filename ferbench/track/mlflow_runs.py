"""One ferbench run in MLflow: a parent run per ferbench run, one nested run per trial, found again by their tags.

Shared by the live tracker (:mod:`ferbench.track.mlflow_tracker`) and ``ferbench track``
(:mod:`ferbench.track.send`). A trial's MLflow run is tagged ``ferbench.complete`` only
once everything of it was sent; one without the tag (the server went down halfway) is
deleted and sent again from the record, so nothing is ever counted twice.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ferbench._lazy import require
from ferbench.results.paths import RunPaths
from ferbench.results.records import RunRecord, TrialRecord
from ferbench.secrets import remember

#: A down server must cost one short wait, not MLflow's default minutes of retries.
#: Nor print a link on every run's end into ferbench's output.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}
TAG_RUN, TAG_TRIAL, TAG_LEVEL, TAG_COMPLETE = "ferbench.run_id", "ferbench.trial", "ferbench.level", "ferbench.complete"
STATUS = {"complete": "FINISHED", "failed": "FAILED", "pruned": "KILLED", "infeasible": "FINISHED"}


def client(uri: str) -> Any:
    """An ``MlflowClient`` of ``uri`` (its password remembered, so no line shows it)."""
    remember(uri)
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    require("mlflow")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _now_ms() -> int:
    return int(time.time() * 1000)


def final_metrics(rec: TrialRecord) -> dict[str, float]:
    """The record's final numbers as MLflow metrics: ``<split>_<metric>``, cost and latency."""
    out: dict[str, float] = {}
    for split, m in (("validation", rec.validation), ("test", rec.test)):
        if m is None:
            continue
        for key, value in m.to_dict().items():
            if isinstance(value, (int, float)) and value is not None and key != "n":
                out[f"{split}_{key}"] = float(value)
    if rec.objective is not None:
        out["objective"] = float(rec.objective)
    for key, value in (("params", rec.cost.params), ("macs", rec.cost.macs),
                       ("latency_batch1_ms", None if rec.latency is None else rec.latency.batch_1_ms)):
        if value is not None:
            out[key] = float(value)
    return out


class MlflowRuns:
    """The MLflow side of one ferbench run: its experiment, parent run and trial runs."""

    def __init__(self, uri: str, experiment: str, run_id: str, *, tags: Mapping[str, str] | None = None) -> None:
        self.uri, self.experiment, self.run_id = uri, experiment, run_id
        self.client = client(uri)
        self.tags = dict(tags or {})
        self._experiment_id: str | None = None
        self._parent: str | None = None

    @property
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            found = self.client.get_experiment_by_name(self.experiment)
            self._experiment_id = str(found.experiment_id) if found else str(self.client.create_experiment(self.experiment))
        return self._experiment_id

    def _search(self, *conditions: str) -> list[Any]:
        where = " and ".join([f"tags.`{TAG_RUN}` = '{self.run_id}'", *conditions])
        return list(self.client.search_runs([self.experiment_id], filter_string=where, max_results=1000))

    def parent(self) -> str:
        """The MLflow run of the ferbench run (made on first use)."""
        if self._parent is None:
            found = self._search(f"tags.`{TAG_LEVEL}` = 'run'")
            if found:
                self._parent = str(found[0].info.run_id)
            else:
                made = self.client.create_run(self.experiment_id, tags={**self.tags, TAG_RUN: self.run_id, TAG_LEVEL: "run"},
                                              run_name=f"{self.tags.get('ferbench.spec_name', 'run')} {self.run_id}")
                self._parent = str(made.info.run_id)
        return self._parent

    def trial_runs(self) -> dict[int, list[Any]]:
        """The trial runs there are, by trial number."""
        out: dict[int, list[Any]] = {}
        for r in self._search(f"tags.`{TAG_LEVEL}` = 'trial'"):
            out.setdefault(int(r.data.tags[TAG_TRIAL]), []).append(r)
        return out

    def start_trial(self, number: int) -> str:
        """A fresh nested run for trial ``number``; an unfinished one of an earlier attempt is deleted first."""
        for r in self.trial_runs().get(number, []):
            if r.data.tags.get(TAG_COMPLETE) == "true":
                raise ValueError(f"trial {number} is in MLflow already")
            self.client.delete_run(r.info.run_id)
        tags = {**self.tags, TAG_RUN: self.run_id, TAG_LEVEL: "trial", TAG_TRIAL: str(number), "mlflow.parentRunId": self.parent()}
        return str(self.client.create_run(self.experiment_id, tags=tags, run_name=f"trial {number}").info.run_id)

    def log_epoch(self, mlflow_id: str, epoch: int, logs: Mapping[str, float | None]) -> None:
        from mlflow.entities import Metric

        now = _now_ms()
        metrics = [Metric(str(k), float(v), now, int(epoch)) for k, v in logs.items() if v is not None and math.isfinite(float(v))]
        if metrics:
            self.client.log_batch(mlflow_id, metrics=metrics)

    def log_history(self, mlflow_id: str, rec: TrialRecord) -> None:
        """Every epoch of the record's history as steps 1, 2, ..."""
        epochs = max((len(v) for v in rec.history.values()), default=0)
        for i in range(epochs):
            self.log_epoch(mlflow_id, i + 1, {k: v[i] for k, v in rec.history.items() if i < len(v)})

    def finish_trial(self, mlflow_id: str, rec: TrialRecord, paths: RunPaths) -> None:
        """Parameters, final metrics, artifacts, then the ``complete`` tag and the run's end."""
        from mlflow.entities import Metric, Param, RunTag

        now = _now_ms()
        params = [Param(str(k), str(v)[:6000]) for k, v in rec.hyperparameters.items()]
        tags = [RunTag("ferbench.searched", ",".join(sorted(rec.params))), RunTag("ferbench.state", rec.state)]
        metrics = [Metric(k, v, now, 0) for k, v in final_metrics(rec).items() if math.isfinite(v)]
        self.client.log_batch(mlflow_id, metrics=metrics, params=params, tags=tags)
        self._artifacts(mlflow_id, rec, paths)
        self.client.set_tag(mlflow_id, TAG_COMPLETE, "true")
        self.client.set_terminated(mlflow_id, status=STATUS.get(rec.state, "FINISHED"))

    def _artifacts(self, mlflow_id: str, rec: TrialRecord, paths: RunPaths) -> None:
        self.client.log_artifact(mlflow_id, str(paths.record(rec.trial)))
        with tempfile.TemporaryDirectory(prefix="ferbench-mlflow-") as tmp:
            history = Path(tmp) / "history.json"
            history.write_text(json.dumps({k: list(v) for k, v in rec.history.items()}, indent=1), encoding="utf-8")
            self.client.log_artifact(mlflow_id, str(history))
            if rec.test is not None and rec.test.per_class:
                self.client.log_artifact(mlflow_id, str(_confusion_png(rec, Path(tmp))))

    def finish_run(self, run: RunRecord | None, status: str, model: Path | None = None) -> None:
        """End the parent run; ``model``: the best trial's Keras file, logged under ``model/``."""
        parent = self.parent()
        if model is not None and model.is_file():
            self.client.log_artifact(parent, str(model), artifact_path="model")
        if run is not None and run.best_trial is not None:
            self.client.set_tag(parent, "ferbench.best_trial", str(run.best_trial))
        self.client.set_terminated(parent, status="FINISHED" if status == "complete" else "KILLED")


def _confusion_png(rec: TrialRecord, folder: Path) -> Path:
    """The test split's confusion matrix as ``confusion_test.png``."""
    import numpy as np

    from ferbench.report.plots import plot_confusion

    assert rec.test is not None
    fig = plot_confusion(np.asarray(rec.test.confusion), list(rec.test.per_class), normalised=False,
                         title=f"trial {rec.trial}: test confusion")
    path = folder / "confusion_test.png"
    fig.savefig(path, dpi=80)
    return path
