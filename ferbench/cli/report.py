"""``ferbench report``: tables, comparisons and plots from results folders.

Mount with ``main.command("report")(report_command)`` (clean help), or
``main.add_typer(app, name="report")``; ``app`` also runs on its own.
Imports nothing heavy at module import: the work happens in :mod:`ferbench.report.api`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ferbench.cli.common import SET_OPTION
from ferbench.errors import FerbenchError
from ferbench.report.formats import FORMATS, STDOUT, format_for

if TYPE_CHECKING:
    from ferbench.spec.types import Spec

app = typer.Typer(
    add_completion=False,
    invoke_without_command=True,
    no_args_is_help=False,
    subcommand_metavar="",
    # A group callback would stop parsing options at the first path; allow them anywhere.
    context_settings={"allow_interspersed_args": True, "help_option_names": ["-h", "--help"]},
    help="Report results: per-run tables, --compare across runs and baselines, plots, HTML.",
)


def _list_baselines(files: list[Path]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ferbench.report.baselines import load_baselines
    from ferbench.report.safe_text import printable

    t = Table(title="Baselines (use an id in a spec's report.compare)", title_justify="left")
    for col in ("id", "name", "benchmark", "test set", "accuracy", "setting", "source"):
        t.add_column(col, justify="right" if col == "accuracy" else "left", no_wrap=col in ("id", "accuracy", "benchmark"))
    for b in load_baselines(files):
        source = b.citation.short() + ("" if b.source == "built-in" else f" [{b.source}]")
        setting = "; ".join(f"{k} {v}" for k, v in (("input", b.input_text), ("pretrained", b.pretrained_text), ("ensemble", b.ensemble_text),
                                                     ("extra data", None if b.extra_data is None else "yes" if b.extra_data else "no"),
                                                     ("TTA", b.tta_text)) if v is not None)
        # Text, not markup: a file path in brackets would read as a rich tag.
        t.add_row(*(Text(printable(x)) for x in (b.id, b.name, f"{b.dataset}/{b.num_classes}", b.split, f"{100 * b.accuracy:.2f}%", setting or "-", source)))
    Console().print(t)


_RESULTS = typer.Argument(
    None, help="Run folders or folders of runs (searched for run.json). Default: results/ without results/reference/", show_default=False,
)
_BASELINES = typer.Option([], "--baselines", help="Extra baselines YAML file (repeatable); see docs/report.md.", show_default=False)


def report_command(
    results: list[Path] | None = _RESULTS,
    compare: bool = typer.Option(False, "--compare",
                                 help="One table per dataset across runs and matching baselines, with 95% CIs, Δ and paired McNemar tests."),
    baselines: list[Path] = _BASELINES,
    fmt: str | None = typer.Option(None, "--format", "-f", help=f"Output format: {' | '.join(FORMATS)}. Default: the one --out's "
                                   "extension names (.md, .csv, .tex, .json, .html), else rich.", show_default=False),
    # A str, not a Path: a trailing slash (out/) means "a folder" and Path would drop it.
    out: str | None = typer.Option(None, "--out", "-o", help="Write to this file (plots go to <stem>-plots/ beside it) or, with a trailing slash "
                                   "or an existing folder, to report.<ext> + plots/ in it. A symbolic link is written through; "
                                   "devices and FIFOs are refused."),
    plots: bool | None = typer.Option(None, "--plots/--no-plots", help="PNG+SVG figures (default: on with --out or html).", show_default=False),
    list_baselines: bool = typer.Option(False, "--list-baselines", help="List the baselines (built-in and --baselines files) and exit."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the bootstrap and of the importance forest."),
    storage: str | None = typer.Option(None, "--storage", help="Report from the Optuna study storage alone (postgresql://..., "
                                       "sqlite:///..., journal:///...), no run folder; needs --spec. $FERBENCH_STORAGE is used with --spec."),
    specs: list[Path] = typer.Option([], "--spec", help="With --storage: the spec whose runs to report (repeatable); its plan names the studies.",
                                     show_default=False),
    sets: list[str] | None = SET_OPTION,
    attributes: Path | None = typer.Option(None, "--attributes", help="CSV `image,<attribute>,...` of the test images' groups "
                                           "(gender, race, age, ...): per-group accuracy and macro F1, worst group, gaps. "
                                           "image: the test image's name, or its position in the test split.", show_default=False),
) -> None:
    """Tables (thesis 5.2-5.9), comparisons, plots and a self-contained HTML report from results folders.

    Folders of one run id (one per host, when hosts share no filesystem) are read as
    one run. With --storage URL --spec SPEC the report is made from the study alone.
    """
    import os

    from ferbench.report.api import write_report
    from ferbench.results import default_results
    from ferbench.secrets import redact, remember

    if fmt is None:
        fmt = format_for(out)
    if out == STDOUT:
        out = None  # -o -: standard output
    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
    remember(storage)
    try:
        if list_baselines:
            _list_baselines(list(baselines))
            return
        url = storage or (os.environ.get("FERBENCH_STORAGE") if specs else None)
        loaded = _specs(specs, sets, url, bool(results))
        written = write_report(results or default_results(), fmt=fmt, out=out, compare=compare, baselines_files=list(baselines),
                               plots=plots, seed=seed, storage=None if not loaded else _storage(url, loaded), specs=loaded,
                               attributes=attributes)
    except FerbenchError as exc:
        # The same boundary as the main CLI, so `app` behaves alike when run on its own.
        typer.echo(f"error: {redact(str(exc))}", err=True)
        raise typer.Exit(exc.exit_code) from None
    if written is not None:
        typer.echo(f"wrote {written}", err=True)


def _specs(paths: list[Path], sets: list[str] | None, url: str | None, folders: bool) -> list[Spec]:
    """The specs of a report from a study storage; none for a report from folders."""
    from ferbench.cli.common import load

    if not paths:
        if url:
            raise FerbenchError("--storage reports from the study alone and needs the spec that made it: add --spec SPEC")
        if sets:
            raise FerbenchError("--set applies to --spec (a report from the study storage); a run folder's spec is fixed")
        return []
    if folders:
        raise FerbenchError("give run folders or --storage URL --spec SPEC, not both: a report reads the folders, or the study alone")
    return [load(p, sets) for p in paths]


def _storage(url: str | None, specs: list[Spec]) -> str:
    """The storage of a report from a study: --storage, $FERBENCH_STORAGE, or the spec's runtime.storage."""
    found = url or next((s.runtime.storage for s in specs if s.runtime.storage), None)
    if not found:
        raise FerbenchError("--spec reports from the study storage: give --storage URL (or set $FERBENCH_STORAGE or runtime.storage)")
    return found


app.callback()(report_command)


def main() -> None:  # pragma: no cover - convenience entry point
    app(sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    main()
