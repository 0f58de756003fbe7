"""Turn results folders into a report: the public entry points behind ``ferbench report``.

    report = build_report(["results/"], compare=True, plots_dir=Path("out/plots"))
    text = render(report, "markdown", base=Path("out"))

Never imports TensorFlow, Keras or Optuna: everything comes from the files on disk.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ferbench.errors import FerbenchError
from ferbench.report.analysis import RunAnalysis, analyse
from ferbench.report.baselines import Baseline, load_baselines
from ferbench.report.formats import EXTENSIONS, FORMATS
from ferbench.report.model import Report, Section
from ferbench.report.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE
from ferbench.results import load_runs
from ferbench.results.atomic import output_target, write_output_text


def build_report(
    paths: Sequence[str | os.PathLike[str]],
    *,
    compare: bool = False,
    include_runs: bool | None = None,
    baselines_files: Sequence[str | os.PathLike[str]] = (),
    compare_with: Sequence[str] = (),
    plots_dir: Path | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Report:
    """Load every run under ``paths`` and build the report's sections.

    ``compare`` adds one comparison section per benchmark (runs + matching baselines,
    CIs, Δ, McNemar). ``include_runs`` adds per-run sections (default: when not
    comparing). ``plots_dir`` turns on figures (PNG + SVG) written under it.
    Raises :class:`~ferbench.errors.FerbenchError` subclasses with readable messages.
    """
    from ferbench.report.compare import compare_section, group_data, make_groups
    from ferbench.report.run_tables import run_data, run_section

    runs = load_runs([Path(p) for p in paths])
    baselines: list[Baseline] = load_baselines(baselines_files) if compare or baselines_files else []
    analyses: list[RunAnalysis] = [analyse(r, resamples=resamples, seed=seed) for r in runs]
    analyses.sort(key=lambda a: (a.run.dataset, a.run.label, a.run.run_id))
    if not any(a.test is not None for a in analyses):
        states = ", ".join(f"{a.run.label} ({a.run.status})" for a in analyses)
        raise FerbenchError(f"nothing to report: no run has a complete trial yet: {states}")
    include_runs = (not compare) if include_runs is None else include_runs
    sections: list[Section] = []
    data: dict[str, Any] = {
        "bootstrap": {"resamples": resamples, "seed": seed, "confidence": CONFIDENCE, "method": "percentile"},
        "runs": [run_data(a) for a in analyses],
    }
    if compare:
        groups = make_groups(analyses, baselines, compare_with)
        data["comparisons"] = [group_data(g) for g in groups]
        for g in groups:
            sec = compare_section(g)
            if plots_dir is not None:
                from ferbench.report.canvas import save
                from ferbench.report.compare import group_title
                from ferbench.report.plots import plot_frontier

                fig = plot_frontier(g, f"Accuracy against parameters: {group_title(g.dataset, g.num_classes)}")
                sec.figures.append(save(fig, plots_dir / g.key, "efficiency_frontier", "Accuracy against parameters (efficiency frontier)"))
            sections.append(sec)
    if include_runs:
        for a in analyses:
            sec = run_section(a)
            if plots_dir is not None:
                from ferbench.report.plots import run_figures

                figs, notes = run_figures(a, plots_dir / sec.key, seed=seed)
                sec.figures += figs
                sec.notes += notes
            sections.append(sec)
    n = len(analyses)
    data["summary"] = (f"{n} run{'s' if n != 1 else ''}; accuracy and macro-F1 intervals: "
                       f"{int(CONFIDENCE * 100)}% percentile bootstrap, {resamples} resamples, seed {seed}")
    title = "ferbench report: comparison" if compare else "ferbench report"
    return Report(title=title, sections=sections, data=data)


def render(report: Report, fmt: str, *, base: Path | None = None, console: Any = None) -> str | None:
    """Render ``report`` as ``fmt``; ``rich`` prints to ``console`` and returns None.

    ``base`` is the folder the output will live in, so figure links can be relative.
    """
    from ferbench.report import render_text

    if fmt == "rich":
        render_text.print_rich(report, console)
        return None
    if fmt == "markdown":
        return render_text.render_markdown(report, base)
    if fmt == "csv":
        return render_text.render_csv(report)
    if fmt == "latex":
        return render_text.render_latex(report)
    if fmt == "json":
        return render_text.render_json(report, base)
    if fmt == "html":
        from ferbench.report.render_html import render_html

        return render_html(report)
    raise FerbenchError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def output_paths(out: str | os.PathLike[str] | None, fmt: str) -> tuple[Path | None, Path | None]:
    """Where the report file and its plots folder go.

    ``x/report.md`` -> ``x/report.md`` + ``x/report-plots/``; an existing folder or one
    written with a trailing slash (``x/``) -> ``x/report.<ext>`` + ``x/plots/``.
    """
    if out is None:
        return None, None
    raw = os.fspath(out)
    path = Path(raw)
    if path.is_dir() or raw.endswith(("/", os.sep)):
        return path / f"report.{EXTENSIONS[fmt]}", path / "plots"
    return path, path.parent / f"{path.stem}-plots"


def write_report(
    paths: Sequence[str | os.PathLike[str]],
    *,
    fmt: str = "rich",
    out: str | os.PathLike[str] | None = None,
    compare: bool = False,
    baselines_files: Sequence[str | os.PathLike[str]] = (),
    plots: bool | None = None,
    console: Any = None,
    seed: int = BOOTSTRAP_SEED,
) -> Path | None:
    """Build, render and write (or print) a report; returns the file written, if any.

    Plots default to on when the report goes to a file or is HTML (embedded), off when
    tables are printed. Asking for plots while printing plain text is an error: the
    PNG/SVG files need a place beside ``--out``.
    """
    import tempfile

    if fmt not in FORMATS:
        raise FerbenchError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    target, plots_dir = output_paths(out, fmt)
    if target is not None:
        output_target(target)  # refuse a device, FIFO or folder before any work (and before plots land beside it)
    want_plots = (target is not None or fmt == "html") if plots is None else plots
    if want_plots and plots_dir is None and fmt != "html":
        raise FerbenchError("--plots writes PNG and SVG files beside the report: give --out PATH (or --format html, which embeds them)")
    if want_plots and plots_dir is not None and plots_dir.exists() and not plots_dir.is_dir():
        raise FerbenchError(f"{plots_dir} is not a folder, and the plots go there: move it away, choose another --out, or pass --no-plots")
    with tempfile.TemporaryDirectory(prefix="ferbench-report-") as tmp:
        if want_plots and plots_dir is None:
            plots_dir = Path(tmp)  # HTML to stdout: plots only live inside the page
        report = build_report(paths, compare=compare, include_runs=None if fmt != "html" else True, baselines_files=baselines_files,
                              plots_dir=plots_dir if want_plots else None, seed=seed)
        if fmt == "rich" and target is not None:
            import io

            from rich.console import Console

            buf = io.StringIO()
            render(report, fmt, console=Console(file=buf, width=180, color_system=None, force_terminal=False))
            text: str | None = buf.getvalue()
        else:
            text = render(report, fmt, base=None if target is None else target.parent.resolve(), console=console)
    if text is None:
        return None
    if target is None:
        import sys

        sys.stdout.write(text)
        return None
    # Atomic, so a half-written report never replaces a good one; through a symlink, never over a device.
    return write_output_text(target, text)
