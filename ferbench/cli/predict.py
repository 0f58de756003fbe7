"""``ferbench predict``: a trained model's answers for image files.

Importing this module is cheap: TensorFlow (and any face detector) is imported
inside the command. The logic is :mod:`ferbench.predict`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from ferbench.spec.types import FacesSpec

_TARGET = typer.Argument(..., metavar="MODEL_OR_RUN", help="A run folder (its best trial), a .keras file, or a .tflite file from ferbench export.")
_INPUTS = typer.Argument(..., metavar="INPUT...", help="Image files, folders (searched recursively) or glob patterns.")
_FACES = typer.Option(None, "--faces", metavar="DETECTOR",
                      help="Find faces first: haar or mtcnn; none scores whole images. Default: the run's dataset.faces, else none.")
_TRIAL = typer.Option(None, "--trial", metavar="N", help="A run folder's trial N instead of its best trial.")
_OUTPUT = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the results to FILE instead of standard output.")
_ANNOTATE = typer.Option(None, "--annotate", metavar="DIR", help="Write copies of the images with boxes and labels drawn into DIR.")


def _faces_spec(choice: str | None, trained: FacesSpec | None) -> FacesSpec | None:
    """The faces stage to run: the run's own unless ``--faces`` names another (or none)."""
    from ferbench.errors import FerbenchError
    from ferbench.spec.types import FacesSpec

    if choice is None:
        if trained is not None and trained.detector == "boxes":
            raise FerbenchError("this model was trained on the face boxes its dataset lists, and image files list none: "
                                "add --faces haar or --faces mtcnn to find the faces, or --faces none when the images "
                                "are face crops already")
        return trained
    if choice == "none":
        return None
    if choice not in ("haar", "mtcnn"):
        raise FerbenchError(f"--faces {choice}: use haar, mtcnn or none")
    if trained is not None:  # the run's margin and minimum size, with the detector asked for
        align = trained.align if choice == "mtcnn" else "none"
        return FacesSpec(choice, align, trained.margin, trained.min_size, "skip", "all")  # type: ignore[arg-type]
    return FacesSpec(choice, "eyes" if choice == "mtcnn" else "none", 0.2, 24, "skip", "all")  # type: ignore[arg-type]


def predict(target: Path = _TARGET, inputs: list[str] = _INPUTS, faces: str | None = _FACES,
            as_json: bool = typer.Option(False, "--json", help="Print JSON: every face's box, class and class probabilities."),
            as_csv: bool = typer.Option(False, "--csv", help="Print CSV: one row per face."),
            output: Path | None = _OUTPUT, annotate: Path | None = _ANNOTATE, trial: int | None = _TRIAL,
            input_range: str = typer.Option("0-255", "--input-range", help="Pixel range a Keras model expects: 0-255 (ferbench), 0-1 or -1-1."),
            ) -> None:
    """Predict the expression of every face in image files, with the model's own input size, colour and faces stage.

    Unreadable files are listed and skipped; the exit status is 2 only when no input could be read.
    """
    from rich.console import Console

    from ferbench.errors import FerbenchError
    from ferbench.predict.inputs import expand_inputs
    from ferbench.predict.loader import load_model
    from ferbench.predict.output import as_csv as to_csv
    from ferbench.predict.output import as_json as to_json
    from ferbench.predict.output import as_text
    from ferbench.predict.score import predict_files

    if as_json and as_csv:
        raise FerbenchError("--json and --csv: choose one")
    files, missing = expand_inputs(inputs)
    model = load_model(target, trial=trial, input_range=input_range)
    stage = _faces_spec(faces, model.faces)
    results = predict_files(model, files, faces=stage, cache_root=None)
    err = Console(stderr=True)
    problems = [(text, why) for text, why in missing] + [(str(r.path), r.error) for r in results if r.error is not None]
    if problems:
        err.print(f"skipped {len(problems)} input(s) that could not be read:", markup=False, soft_wrap=True)
        for where, why in problems:
            err.print(f"  {where}: {why}", markup=False, soft_wrap=True)
    if not any(r.error is None for r in results):
        raise FerbenchError("no input could be read; give image files, folders or patterns that match images")
    if annotate is not None:
        from ferbench.predict.annotate import annotate as draw

        written = draw(results, model.classes, annotate)
        err.print(f"annotated {len(written)} image(s) in {annotate}", markup=False, soft_wrap=True)
    _emit(to_json(model, results) if as_json else to_csv(model, results) if as_csv else None, as_text(model, results), output)


def _emit(text: str | None, rows: list[tuple[str, str, str, str]], output: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if text is None:
        table = Table()
        for col in ("Image", "Face", "Class", "Probability"):
            table.add_column(col, justify="right" if col == "Probability" else "left")
        for row in rows:
            table.add_row(*(Text(v) for v in row))
        if output is None:
            Console().print(table)
            return
        buf = Console(record=True, width=160, file=io.StringIO())
        buf.print(table)
        text = buf.export_text()
    if output is None:
        typer.echo(text, nl=False)
        return
    from ferbench.results.atomic import write_output_text

    write_output_text(output, text)
