"""``ferbench run`` and ``ferbench evaluate`` (plain command functions, mounted by cli.main).

Importing this module is cheap: TensorFlow and Optuna are imported inside the
commands, when there is work for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ferbench.cli.common import SET_OPTION, overrides
from ferbench.interrupts import say_interrupted

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console


def _console() -> Console:
    from rich.console import Console

    return Console()


def tracking_overrides(targets: list[str]) -> list[str]:
    """``--tracking`` as ``--set`` overrides: ``tensorboard`` turns event files on, anything else is an MLflow URI."""
    out = []
    for t in targets:
        out.append("tracking.tensorboard=true" if t.strip().lower() == "tensorboard" else f"tracking.mlflow.uri={t}")
    return out


_SPEC = typer.Argument(..., help="The spec file.")
_RUN_IDS = typer.Option(None, "--run", metavar="RUN_ID", help="Only this run id of the plan (repeatable).")


def run(
    spec: Path = _SPEC,
    sets: list[str] | None = SET_OPTION,
    trials: int | None = typer.Option(None, "--trials", min=1, help="Override search.trials (a quick check; changes the run id)."),
    max_epochs: int | None = typer.Option(None, "--max-epochs", min=1, help="Override train.max_epochs (changes the run id)."),
    fresh: bool = typer.Option(False, "--fresh", help="Start over: move an existing run folder to <name>/.old/ (never deleted)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress; one summary line per run."),
    storage: str | None = typer.Option(None, "--storage", help="Optuna storage URL (default: SQLite in the run folder; $FERBENCH_STORAGE)."),
    run_ids: list[str] | None = _RUN_IDS,
    tracking: list[str] | None = typer.Option(
        None, "--tracking", metavar="TARGET",
        help="Track trials as they train: 'tensorboard', or an MLflow tracking URI (repeatable; the spec's tracking:, not part of the run id)."),
) -> None:
    """Train and search: every run of the spec's plan, resumable; prints the best trial of each.

    Exit status: 0 when every run has a complete trial, 1 when a run has none,
    2 on a spec or results error, 130 when interrupted (start it again to resume).
    """
    try:
        from ferbench.run.runner import run_spec

        results = run_spec(spec, sets=overrides(sets) + tracking_overrides(tracking or []), trials=trials, max_epochs=max_epochs, fresh=fresh,
                           quiet=quiet, storage=storage, only=list(run_ids or []))
    except KeyboardInterrupt:
        say_interrupted("interrupted: finished trials are kept; run the same command again to resume "
                        "(the interrupted trial re-runs with the same parameters)")
        raise typer.Exit(130) from None
    from ferbench.cli.table import best_table, pareto_table, summary_line

    console = _console()
    for r in results:
        info, best = r.info.to_dict(), None if r.best_record is None else r.best_record.to_dict()
        if quiet:
            print(summary_line(info, best))
            continue
        from ferbench.results.read import pareto_records, searched_names

        console.print(best_table(info, best, searched_names(Path(r.folder))))
        if info.get("pareto") is not None:
            console.print(pareto_table(info, [rec.to_dict() for rec in pareto_records(Path(r.folder), info["pareto"])]))
        console.print(f"results: {r.folder}", markup=False)
    if any(r.status != "complete" for r in results):
        raise typer.Exit(1)


_TARGET = typer.Argument(..., metavar="MODEL_OR_RUN", help="A .keras model file, or a run folder (its best/model.keras).")
_EVAL_SPEC = typer.Option(None, "--spec", help="Spec whose data to evaluate on (default: the run folder's own spec).")
_EVAL_OUT = typer.Option(None, "--out", help="Output folder (default: <results>/<spec name>/eval-<id>).")


def evaluate(
    target: Path = _TARGET,
    spec: Path | None = _EVAL_SPEC,
    sets: list[str] | None = SET_OPTION,
    split: str = typer.Option("test", "--split", help="The spec split that fills the record's test metrics: test, validation or train."),
    out: Path | None = _EVAL_OUT,
    input_range: str = typer.Option("0-255", "--input-range", help="Pixel range the model expects: 0-255 (ferbench, Keras applications), 0-1 or -1-1."),
    name: str | None = typer.Option(None, "--name", help="What reports call it (default: the run's spec name, or the model file's name)."),
) -> None:
    """Evaluate a saved Keras model on a spec's data; writes the same records as a run (one trial)."""
    from ferbench.cli.table import METRIC_LABELS
    from ferbench.run.evaluate import evaluate_model

    result = evaluate_model(target, spec_path=spec, sets=overrides(sets), split=split, out=out, input_range=input_range,
                            name=name)
    from rich.table import Table
    from rich.text import Text

    assert result.record.test is not None  # an evaluation scores the test block
    m = result.record.test.to_dict()
    table = Table(title=Text(f"{result.name} ({target}), {split}, n={m['n']}"))
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    for key, label in METRIC_LABELS:
        table.add_row(label, f"{m[key]:.4f}")
    console = _console()
    console.print(table)
    console.print(f"results: {result.folder}", markup=False)
