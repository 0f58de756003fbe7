"""``ferbench track``: send a run folder's records to MLflow after the fact (idempotent).

Importing this module is cheap: MLflow is imported inside the command.
"""

from __future__ import annotations

from pathlib import Path

import typer

_RUN = typer.Argument(..., metavar="RUN_FOLDER", help="A run folder (results/<name>/<run id>).")
_MLFLOW = typer.Option(..., "--mlflow", metavar="URI", help="The MLflow tracking URI (a password in it is never shown).")
_EXPERIMENT = typer.Option(None, "--experiment", help="The MLflow experiment (default: the spec's tracking.mlflow.experiment, else its name).")
_MODEL = typer.Option(False, "--log-model", help="Also log the best trial's model.keras under the run's artifacts.")


def track(run: Path = _RUN, mlflow: str = _MLFLOW, experiment: str | None = _EXPERIMENT, log_model: bool = _MODEL) -> None:
    """Send a run's trials to MLflow from their records: one run per ferbench run, one nested run per trial.

    A second send adds nothing: complete trials are left as they are, and a trial
    half-sent by a server that went down during the run is sent again whole.
    """
    from ferbench.errors import FerbenchError
    from ferbench.secrets import hide_password, redact, remember
    from ferbench.track.send import send_run

    remember(mlflow)
    try:
        done = send_run(run, uri=mlflow, experiment=experiment, log_model=log_model)
    except FerbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - the server's refusal, in one line: nothing is lost, send again
        why = redact(" ".join(str(exc).split()))[:300]
        raise FerbenchError(f"{hide_password(mlflow)}: MLflow refused or is unreachable ({type(exc).__name__}: {why}); "
                            "the records are unchanged: send again when it answers") from None
    print(f"{hide_password(mlflow)}: experiment {done.experiment!r}, run {done.parent}: sent trial(s) "
          f"{', '.join(map(str, done.sent)) or 'none'}; already there: {', '.join(map(str, done.already)) or 'none'}"
          + (f"; {done.still_training} still training (send again later)" if done.still_training else ""))
