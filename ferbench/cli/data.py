"""``ferbench data``: inspect a spec's dataset without training (no TensorFlow import)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from ferbench.cli.common import SET_OPTION, load

app = typer.Typer(
    help="Inspect datasets: per-split, per-class counts, duplicates, class weights.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


SPEC_ARGUMENT = typer.Argument(..., help="The spec file.")
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object instead of tables.")


@app.callback()
def _group() -> None:
    """Inspect datasets."""


@app.command()
def describe(
    spec: Path = SPEC_ARGUMENT,
    sets: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Per-split, per-class counts, duplicates across splits, blank images and the class weights a run uses."""
    from ferbench.data.describe import describe as describe_data
    from ferbench.data.describe import render

    s = load(spec, sets)
    notes = [n for n in s.notes if n.startswith("dataset.")]  # e.g. which default splits it got
    if s.dataset.folds and s.dataset.fold is None and s.dataset.folds_by == "subject":
        notes.append(f"dataset.folds: {{k: {s.dataset.folds}, by: subject}}: run f tests on fold f's subjects, validates on the next fold "
                     "and trains on the rest (the folds are listed below; --set dataset.fold=N shows run N's splits)")
    elif s.dataset.folds and s.dataset.fold is None:
        notes.append(f"dataset.folds: {s.dataset.folds}: each run validates on one fold of train + validation and trains on the others "
                     "(shown: the splits before folding; --set dataset.fold=N shows fold N)")
    report = describe_data(s.dataset, s.loss, seed=s.seed, progress=sys.stderr.isatty(), notes=notes)
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        print(render(report))
