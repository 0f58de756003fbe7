"""The trackers a spec's ``tracking`` asks for, guarded (see :class:`ferbench.track.base.Guarded`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ferbench.errors import FerbenchError
from ferbench.results.paths import RunPaths
from ferbench.secrets import redact, remember
from ferbench.spec.types import Spec
from ferbench.track.base import NO_TRACKING, Guarded, Tracker


def run_tags_of(spec_name: str, arch: str, run_id: str, env: Mapping[str, Any]) -> dict[str, str]:
    """The tags of a ferbench run in MLflow: run id, spec name, architecture, git commit, environment."""
    versions = ", ".join(f"{k} {env[k]}" for k in ("python", "ferbench", "tensorflow", "keras", "optuna") if env.get(k))
    return {"ferbench.run_id": run_id, "ferbench.spec_name": spec_name, "ferbench.architecture": arch,
            "ferbench.git_commit": str(env.get("git_commit") or "unknown"), "ferbench.environment": versions,
            "ferbench.host": str(env.get("host") or "")}


def run_tags(spec: Spec, run_id: str) -> dict[str, str]:
    """:func:`run_tags_of` for a run starting in this process."""
    from ferbench.results.environment import environment

    return run_tags_of(spec.name, str(spec.model.arch), run_id, environment())


def make_tracker(spec: Spec, paths: RunPaths, run_id: str, warn: Callable[[str], None]) -> Tracker:
    """The spec's trackers behind one guard, or a tracker that does nothing."""
    tracking = spec.tracking
    trackers: list[Tracker] = []
    try:
        if tracking.mlflow is not None:
            from ferbench.track.mlflow_runs import MlflowRuns
            from ferbench.track.mlflow_tracker import MlflowTracker

            remember(tracking.mlflow.uri)
            runs = MlflowRuns(tracking.mlflow.uri, tracking.mlflow.experiment or spec.name, run_id, tags=run_tags(spec, run_id))
            trackers.append(MlflowTracker(runs, paths, log_model=tracking.mlflow.log_model))
        if tracking.tensorboard:
            from ferbench.track.tensorboard_tracker import TensorBoardTracker

            trackers.append(TensorBoardTracker(paths))
    except FerbenchError:
        raise  # a missing extra: its install hint, before any training
    except Exception as exc:  # noqa: BLE001 - a tracker that cannot even start: one line, the run goes on
        warn(f"warning: tracking is off ({type(exc).__name__}: {redact(str(exc))[:240]})")
    return Guarded(trackers, warn) if trackers else NO_TRACKING
