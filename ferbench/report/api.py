"""Turn results folders into a report: the public entry points behind ``ferbench report``.

    report = build_report(["results/"], compare=True, plots_dir=Path("out/plots"))
    text = render(report, "markdown", base=Path("out"))

Never imports TensorFlow or Keras; everything comes from the files on disk, or for a report
from a study storage (``storage=``) from the study, which imports Optuna then.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferbench.errors import FerbenchError
from ferbench.report.analysis import RunAnalysis, analyse
from ferbench.report.baselines import Baseline, load_baselines
from ferbench.report.formats import EXTENSIONS, FORMATS
from ferbench.report.model import Report, Section
from ferbench.report.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE
from ferbench.results import Run, load_runs
from ferbench.results.atomic import output_target, write_output_text
from ferbench.results.runs import best_disagreement
from ferbench.secrets import hide_password
from ferbench.spec.types import Spec

if TYPE_CHECKING:
    from rich.console import Console


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
    storage: str | None = None,
    specs: Sequence[Spec] = (),
    attributes: Path | None = None,
) -> Report:
    """Load every run under ``paths`` (folders of one run id, one per host, are one run) and build the report's sections.

    ``storage`` (with ``specs``): instead of folders, rebuild the runs of the specs'
    plans from their studies in that Optuna storage (imports Optuna; see
    :mod:`ferbench.run.search.readback`). ``compare`` adds one comparison section
    per benchmark (runs + matching baselines, CIs, Δ, McNemar). ``include_runs``
    adds per-run sections (default: when not comparing). ``plots_dir`` turns on
    figures (PNG + SVG) written under it. Fairness tables come from the attributes the
    test images carry (RAF-DB's, saved with the predictions) and from ``attributes``: a
    CSV ``image,attribute,...`` of the test images' groups, matched by image name. Raises
    :class:`~ferbench.errors.FerbenchError` subclasses with readable messages.
    """
    from ferbench.report.run_tables import run_data

    warnings: list[str] = []
    runs = _load(paths, storage, specs, warnings)
    for r in runs:  # one truth: a best trial that is not the best of the records is said, not silently shown
        why = best_disagreement(r.info, r.trials)
        if why:
            warnings.append(f"{r.label}: {why}; the report shows the trial run.json names (`ferbench collect` into a new folder "
                            "writes run.json with the records' best)")
    baselines: list[Baseline] = load_baselines(baselines_files) if compare or baselines_files else []
    analyses = _analysed(runs, resamples=resamples, seed=seed)
    from ferbench.report.evaluation import attach_fairness, attach_own_attributes, read_attributes

    attribute_values = read_attributes(attributes) if attributes is not None else {}
    for a in analyses:
        attach_own_attributes(a)  # the images' own (RAF-DB); the file's replace an attribute of the same name
        if attribute_values:
            attach_fairness(a, attribute_values)
    include_runs = (not compare) if include_runs is None else include_runs
    sections: list[Section] = []
    data: dict[str, Any] = {
        "bootstrap": {"resamples": resamples, "seed": seed, "confidence": CONFIDENCE, "method": "percentile"},
        "runs": [run_data(a) for a in analyses],
    }
    if compare:
        sections += _comparison_sections(analyses, baselines, compare_with, data, plots_dir)
    if include_runs:
        sections += _run_sections(analyses, plots_dir, seed)
    n = len(analyses)
    data["summary"] = (f"{n} run{'s' if n != 1 else ''}; accuracy and macro-F1 intervals: "
                       f"{int(CONFIDENCE * 100)}% percentile bootstrap, {resamples} resamples, seed {seed}")
    title = "ferbench report: comparison" if compare else "ferbench report"
    return Report(title=title, sections=sections, data=data, warnings=warnings)


def _load(paths: Sequence[str | os.PathLike[str]], storage: str | None, specs: Sequence[Spec], warnings: list[str]) -> list[Run]:
    """The runs to report: from their folders, or rebuilt from a study storage (with a warning of what that leaves out)."""
    if storage is not None:
        runs = _study_runs(storage, specs, warnings)
        warnings.append(f"read from the study storage {hide_password(storage)}, without run folders: bootstrap confidence intervals "
                        "and paired McNemar tests need each trial's saved predictions (predictions.npz), which only the run folders "
                        "hold, so they are left out; report the folders (or `ferbench collect` them into one) to have them")
        return runs
    return load_runs([Path(p) for p in paths])


def _analysed(runs: list[Run], *, resamples: int, seed: int) -> list[RunAnalysis]:
    """Every run analysed, in report order; refused when none has a test result."""
    analyses: list[RunAnalysis] = [analyse(r, resamples=resamples, seed=seed) for r in runs]
    analyses.sort(key=lambda a: (a.run.dataset, a.run.label, a.run.run_id))
    if not any(a.test is not None for a in analyses):
        states = ", ".join(f"{a.run.label} ({a.run.status})" for a in analyses)
        raise FerbenchError(f"nothing to report: no run has a complete trial yet: {states}")
    return analyses


def _comparison_sections(analyses: list[RunAnalysis], baselines: list[Baseline], compare_with: Sequence[str],
                         data: dict[str, Any], plots_dir: Path | None) -> list[Section]:
    """One comparison section per benchmark (with its frontier), then the trained-on x tested-on matrix."""
    from ferbench.report.compare import compare_section, group_data
    from ferbench.report.cross import cross_section
    from ferbench.report.frontier import frontier_data, frontier_rows, frontier_table, has_frontier
    from ferbench.report.groups import make_groups

    sections: list[Section] = []
    groups = make_groups(analyses, baselines, compare_with)
    data["comparisons"] = [group_data(g) for g in groups]
    for g, gd in zip(groups, data["comparisons"], strict=True):
        sec = compare_section(g)
        rows = frontier_rows(g.runs, g.baselines)
        if has_frontier(g.runs):
            sec.tables.append(frontier_table(f"{g.key}-frontier", "Efficiency frontier: size, cost, latency and accuracy", rows))
            gd["frontier"] = frontier_data(rows)
        if plots_dir is not None:
            sec.figures += _frontier_figures(g, rows, plots_dir / g.key)
        sections.append(sec)
    matrix = cross_section(analyses)
    if matrix is not None:
        sections.append(matrix)
    return sections


def _run_sections(analyses: list[RunAnalysis], plots_dir: Path | None, seed: int) -> list[Section]:
    """One section per run, with its figures where plots are asked for."""
    from ferbench.report.run_tables import run_section

    sections: list[Section] = []
    for a in analyses:
        sec = run_section(a)
        if plots_dir is not None:
            from ferbench.report.plots import run_figures

            figs, notes = run_figures(a, plots_dir / sec.key, seed=seed)
            sec.figures += figs
            sec.notes += notes
        sections.append(sec)
    return sections


def _frontier_figures(g: Any, rows: Sequence[Any], folder: Path) -> list[Any]:
    """Accuracy against parameters (always), MACs and latency (where some model has them) of a comparison."""
    from ferbench.report.canvas import save
    from ferbench.report.groups import group_title
    from ferbench.report.plots import FRONTIER_FIGURES, plot_frontier

    out = []
    for axis, key, what in FRONTIER_FIGURES:
        placed = [r for r in rows if r.value(axis) is not None]
        if axis != "params" and not placed:
            continue
        name = "efficiency_frontier" if axis == "params" else f"efficiency_frontier_{key}"
        fig = plot_frontier(g, f"Accuracy against {what}: {group_title(g.dataset, g.num_classes)}", axis)
        out.append(save(fig, folder, name, f"Accuracy against {what} (efficiency frontier)"))
    return out


def _study_runs(storage: str, specs: Sequence[Spec], warnings: list[str]) -> list[Run]:
    """The specs' runs from their studies; a run not started yet is a warning, unless none has started."""
    if not specs:
        raise FerbenchError("reporting from a study storage alone needs the spec that made it: give it (specs=; --spec SPEC on the command line)")
    from ferbench.run.search.readback import study_runs

    missing: list[str] = []
    runs = [run for spec in specs for run in study_runs(storage, spec, missing)]
    if not runs:
        raise FerbenchError(missing[0] if len(missing) == 1 else f"{missing[0]} (and {len(missing) - 1} more run(s) of the plan)")
    warnings.extend(missing)
    return runs


def render(report: Report, fmt: str, *, base: Path | None = None, console: Console | None = None) -> str | None:
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
    console: Console | None = None,
    seed: int = BOOTSTRAP_SEED,
    storage: str | None = None,
    specs: Sequence[Spec] = (),
    attributes: Path | None = None,
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
        raise FerbenchError("plots are PNG and SVG files beside the report: give an output file (out=; give --out PATH on the command line), "
                            "or choose the html format, which embeds them")
    if want_plots and plots_dir is not None and plots_dir.exists() and not plots_dir.is_dir():
        raise FerbenchError(f"{plots_dir} is not a folder, and the plots go there: move it away, write the report elsewhere (out=, --out), "
                            "or leave the plots out (plots=False, --no-plots)")
    with tempfile.TemporaryDirectory(prefix="ferbench-report-") as tmp:
        if want_plots and plots_dir is None:
            plots_dir = Path(tmp)  # HTML to stdout: plots only live inside the page
        report = build_report(paths, compare=compare, include_runs=None if fmt != "html" else True, baselines_files=baselines_files,
                              plots_dir=plots_dir if want_plots else None, seed=seed, storage=storage, specs=specs,
                              attributes=attributes)
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
