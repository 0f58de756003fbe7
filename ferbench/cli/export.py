"""``ferbench export``: a run's trained models as SavedModel, TFLite or ONNX files, scored again and timed.

Importing this module is cheap: TensorFlow is imported inside the command. The checks
of the flags are here; the logic is :mod:`ferbench.export.api`.
"""

from __future__ import annotations

from pathlib import Path

import typer

_RUN = typer.Argument(..., metavar="RUN_FOLDER", help="A run folder (results/<name>/<run id>).")
_FORMAT = typer.Option(..., "--format", "-f", metavar="FORMAT",
                       help="savedmodel, tflite, tflite-float16, tflite-int8 (int8 calibrated on training images) or onnx "
                            "(needs ferbench[onnx]); repeatable.")
_TRIAL = typer.Option(None, "--trial", metavar="N", help="Export trial N (repeatable; default: the run's best trial).")
_PARETO = typer.Option(False, "--pareto", help="Export every trial of the run's Pareto set (a run with one objective: its best trial).")


def check_flags(formats: list[str], trials: list[int], pareto: bool) -> None:
    """Refuse, in the command line's words, an unknown or missing --format and --trial given with --pareto."""
    from ferbench.errors import FerbenchError
    from ferbench.results.exports import EXPORT_FORMATS

    bad = [f for f in formats if f not in EXPORT_FORMATS]
    if bad or not formats:
        raise FerbenchError(f"--format must be one of {', '.join(EXPORT_FORMATS)}; got {', '.join(bad) or 'none'}")
    if trials and pareto:
        raise FerbenchError("give --trial or --pareto, not both")


def export(run: Path = _RUN, formats: list[str] = _FORMAT, trials: list[int] | None = _TRIAL, pareto: bool = _PARETO) -> None:
    """Export trained models beside their trial: the files, and a record of their test accuracy and CPU latency.

    Each format of each trial goes to trials/<n>/exports/<format>/ with export.json: the
    model re-evaluated on the run's test split through the format's runtime, and its
    latency on this CPU at batch 1 and at the spec's evaluation batch (median of repeats).
    A model card (MODEL_CARD.md and model_card.json) is written beside every export.
    Exit status 2, before any work, for an unknown format, a trial whose model was not
    kept, or a format already exported (records are never rewritten).
    """
    from rich.console import Console
    from rich.table import Table

    from ferbench.export.api import export_run

    check_flags(list(formats), list(trials or []), pareto)
    done = export_run(run, formats=list(formats), trials=list(trials or []), pareto=pareto)
    table = Table(title=f"exported from {run}")
    for col, justify in (("Trial", "right"), ("Format", "left"), ("Size", "right"), ("Test accuracy", "right"),
                         ("vs Keras (pp)", "right"), ("max |Δp|", "right"), ("Latency b=1", "right"), ("Runtime", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for e in done:
        r = e.record
        change = r.accuracy_change
        table.add_row(str(r.trial), r.format, f"{r.size_bytes / 1024:,.0f} KiB", f"{r.test.accuracy:.4f}",
                      "-" if change is None else f"{100 * change:+.2f}",
                      "-" if r.parity is None else f"{r.parity.max_abs_prob_diff:.2g}",
                      "-" if r.latency.batch_1_ms is None else f"{r.latency.batch_1_ms:.3f} ms", r.latency.runtime)
    console = Console()
    console.print(table)
    for e in done:
        console.print(f"{e.record.format}: {e.folder}", markup=False)
