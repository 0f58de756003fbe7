"""Figures: every plot written as PNG and SVG; importances seeded and sensible."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ferbench.report.search_plots import param_importances
from ferbench.results import load_runs

RUN_PLOTS = {"confusion_raw", "confusion_normalised", "learning_curves", "learning_curve_best", "optimisation_history", "parallel_coordinates",
             "param_importances", "reliability"}


def test_every_plot_in_png_and_svg(html_report: Path):
    plots = html_report.parent / "report-plots"
    run_dirs = sorted(d for d in plots.iterdir() if d.name.startswith("run-"))
    assert len(run_dirs) == 3
    for d in run_dirs:
        assert {p.stem for p in d.glob("*.png")} == RUN_PLOTS == {p.stem for p in d.glob("*.svg")}, d
    for d in plots.glob("compare-*"):  # the fixture's trials have a size but no measured latency
        assert {p.name for p in d.iterdir()} == {f"{n}.{ext}" for n in ("efficiency_frontier", "efficiency_frontier_macs") for ext in ("png", "svg")}
    for png in plots.rglob("*.png"):
        with Image.open(png) as im:
            assert im.width > 300 and im.height > 200
    for svg in plots.rglob("*.svg"):
        assert ET.parse(svg).getroot().tag.endswith("svg")


def _synthetic_trials(results_dir: Path, n: int = 40):
    """Trials whose objective depends on the learning rate only."""
    (run,) = [r for r in load_runs([results_dir]) if r.spec_name == "scaled_fer2013"]
    base = run.best
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        lr = float(10 ** rng.uniform(-5.3, -2))
        params = {"learning_rate": lr, "width": float(rng.uniform(0.2, 1.4)), "depth": float(rng.uniform(0.2, 1.4)), "dropout": float(rng.uniform(0, 0.5)), "optimizer": ["adam", "sgd"][i % 2]}
        out.append(dataclasses.replace(base, trial=i, params=params, objective=(np.log10(lr) + 3.5) ** 2 + float(rng.normal(0, 0.01))))
    return run, out


def test_importances_are_seeded_and_find_the_parameter_that_matters(results_dir: Path):
    run, trials = _synthetic_trials(results_dir)
    imp = param_importances(trials, run.search_space, seed=0)
    assert list(imp)[0] == "learning_rate" and imp["learning_rate"] > 0.6
    assert sum(imp.values()) == pytest.approx(1.0)
    assert imp == param_importances(trials, run.search_space, seed=0)
    assert param_importances(trials[:1], run.search_space) == {}


def test_frontier_axes_are_labelled_plainly() -> None:
    from ferbench.report.plots import _short_number

    assert [_short_number(v) for v in (0.2, 5.0, 50_000.0, 2_000_000.0, 1e9)] == ["0.2", "5", "50k", "2M", "1G"]


def test_an_evaluated_model_has_no_learning_curves_but_a_note(results_dir: Path, tmp_path: Path) -> None:
    """A run of `ferbench evaluate` has no epochs: no empty curve figures, a note instead."""
    from ferbench.report.analysis import analyse
    from ferbench.report.plots import run_figures

    (run,) = [r for r in load_runs([results_dir]) if r.spec_name == "scaled_fer2013"]
    evaluated = dataclasses.replace(run, trials=tuple(dataclasses.replace(t, history={}) for t in run.trials))
    figs, notes = run_figures(analyse(evaluated), tmp_path, seed=0)
    drawn = {p.stem for p in tmp_path.glob("*.png")}
    assert "learning_curves" not in drawn and "learning_curve_best" not in drawn
    assert {"confusion_raw", "optimisation_history"} <= drawn and len(figs) == len(drawn)
    assert any("no training history" in n for n in notes)
    figs, notes = run_figures(analyse(run), tmp_path / "trained", seed=0)
    assert {"learning_curves", "learning_curve_best"} <= {p.stem for p in (tmp_path / "trained").glob("*.png")}
