"""``ferbench track``: a run folder sent to MLflow from its records, after the fact.

Idempotent: a trial whose MLflow run is complete (tagged ``ferbench.complete``) is left
as it is; one that is missing, or was left half-sent by a server that went down, is
sent whole from its record (a half-sent one is deleted first). A second send adds nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ferbench.errors import ResultsError
from ferbench.results.paths import RunPaths
from ferbench.results.read import read_resolved_spec, read_run_record, read_trials
from ferbench.track.mlflow_runs import TAG_COMPLETE, MlflowRuns

#: Run states after which the parent MLflow run is ended.
ENDED = ("complete", "failed", "interrupted")


@dataclass
class Sent:
    """What one ``ferbench track`` did."""

    experiment: str
    parent: str
    sent: list[int] = field(default_factory=list)
    already: list[int] = field(default_factory=list)
    still_training: int = 0


def send_run(run_dir: str | os.PathLike[str], *, uri: str, experiment: str | None = None, log_model: bool = False) -> Sent:
    """Send every finished trial of ``run_dir`` not yet complete in MLflow at ``uri``; end the parent run if the run ended."""
    from ferbench.track.make import run_tags_of

    paths = RunPaths(Path(run_dir))
    if not paths.run_json.is_file():
        raise ResultsError(f"{run_dir}: not a run folder (no run.json)")
    info = read_run_record(paths.run_json)
    raw = read_resolved_spec(paths.spec)
    tracking = (raw.get("tracking") or {}).get("mlflow") or {}
    name = experiment or tracking.get("experiment") or info.spec_name
    arch = str((raw.get("model") or {}).get("arch", "unknown"))
    runs = MlflowRuns(uri, name, info.run_id, tags=run_tags_of(info.spec_name, arch, info.run_id, info.environment))
    records, _ = read_trials(paths, info.run_id)
    done = {n for n, rs in runs.trial_runs().items() if any(r.data.tags.get(TAG_COMPLETE) == "true" for r in rs)}
    out = Sent(experiment=name, parent=runs.parent())
    for rec in records:
        if rec.trial in done:
            out.already.append(rec.trial)
            continue
        mlflow_id = runs.start_trial(rec.trial)
        runs.log_history(mlflow_id, rec)
        runs.finish_trial(mlflow_id, rec, paths)
        out.sent.append(rec.trial)
    out.still_training = len(paths.trial_dirs()) - len(records)
    if info.status in ENDED:
        runs.finish_run(info, info.status, paths.best_model if log_model else None)
    return out
