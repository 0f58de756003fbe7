"""Figures of one run and of a comparison, written as PNG and SVG.

Figures are made and written by :mod:`ferbench.report.canvas` (matplotlib without
pyplot); the search plots (parallel coordinates, importances) live in
:mod:`ferbench.report.search_plots`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench.report import search_plots
from ferbench.report.canvas import new_figure, save
from ferbench.report.model import Figure
from ferbench.results import TrialRecord
from ferbench.results.read import finite

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure as MplFigure

    from ferbench.report.analysis import RunAnalysis
    from ferbench.report.groups import Group

CMAP = "Blues"


# --------------------------------------------------------------------------- confusion


def plot_confusion(cm: np.ndarray, classes: Sequence[str], *, normalised: bool, title: str) -> MplFigure:
    """Rows true, columns predicted; normalised rows sum to 1 (recall on the diagonal)."""
    cm = np.asarray(cm, dtype=np.float64)
    if normalised:
        rows = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    k = len(classes)
    fig = new_figure(1.0 + 0.75 * k, 0.6 + 0.7 * k)
    ax = fig.add_subplot()
    im = ax.imshow(cm, cmap=CMAP, vmin=0, vmax=1 if normalised else max(cm.max(), 1))
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_xticks(range(k), classes, rotation=45, ha="right")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.set_title(title)
    top = cm.max() if cm.size else 0
    for i in range(k):
        for j in range(k):
            v = cm[i, j]
            text = f"{v:.2f}" if normalised else f"{int(v)}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if v > 0.6 * top else "black")
    return fig


# --------------------------------------------------------------------------- curves


def _series(t: TrialRecord, key: str) -> tuple[np.ndarray, np.ndarray]:
    vals = [finite(v) for v in t.history.get(key, ())]
    x = np.arange(1, len(vals) + 1)
    y = np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
    return x, y


def plot_learning_curves_all(trials: Sequence[TrialRecord], best: TrialRecord | None, title: str) -> MplFigure:
    """Validation loss and accuracy per epoch of every complete trial; the best one in bold."""
    fig = new_figure(10, 4)
    axes = fig.subplots(1, 2)
    for ax, key, label in zip(axes, ("val_loss", "val_accuracy"), ("Validation loss", "Validation accuracy"), strict=True):
        for t in trials:
            x, y = _series(t, key)
            if best is not None and t.number == best.number:
                continue
            ax.plot(x, y, lw=0.8, alpha=0.45)
        if best is not None:
            x, y = _series(best, key)
            ax.plot(x, y, lw=2.2, color="black", label=f"best (trial {best.number})")
            ax.legend(loc="best", fontsize=8)
        ax.set_xlabel("Epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return fig


def plot_learning_curve_best(best: TrialRecord, title: str) -> MplFigure:
    """Training and validation loss and accuracy of the best trial; the kept epoch is marked."""
    fig = new_figure(10, 4)
    axes = fig.subplots(1, 2)
    for ax, (a, b, label) in zip(axes, (("loss", "val_loss", "Loss"), ("accuracy", "val_accuracy", "Accuracy")), strict=True):
        for key, style in ((a, "-"), (b, "--")):
            x, y = _series(best, key)
            if len(x):
                ax.plot(x, y, style, label=key)
        if best.best_epoch:
            ax.axvline(best.best_epoch, color="grey", lw=0.8, ls=":", label=f"kept epoch {best.best_epoch}")
        ax.set_xlabel("Epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def plot_history(trials: Sequence[TrialRecord], direction: str, metric: str, title: str) -> MplFigure:
    """Objective of each complete trial by trial number, with the best value so far."""
    done = sorted((t for t in trials if t.state == "complete" and finite(t.objective) is not None), key=lambda t: t.number)
    fig = new_figure(7, 4)
    ax = fig.add_subplot()
    x = np.array([t.number for t in done])
    y = np.array([t.objective for t in done], dtype=np.float64)
    ax.scatter(x, y, s=18, label="trial", zorder=3)
    if len(y):
        best = np.minimum.accumulate(y) if direction == "minimize" else np.maximum.accumulate(y)
        ax.step(x, best, where="post", color="tab:red", label="best so far")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Trial")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------- efficiency frontier

#: Markers of exported variants on the frontier plots.
EXPORT_MARKERS = {"savedmodel": "P", "tflite": "s", "tflite-float16": "v", "tflite-int8": "^", "onnx": "D"}


def _axis_value(t: TrialRecord, axis: str) -> float | None:
    v = t.latency_ms if axis == "latency_ms" else getattr(t.cost, axis)
    return None if v is None else float(v)


def plot_frontier(g: Group, title: str, axis: str = "params") -> MplFigure:
    """Test accuracy against ``axis`` (params, macs or latency_ms): every complete trial, what each run offers
    (its Pareto set or best trial), their exported variants, and the baselines whose value is known.

    Human level and the selected baselines that cannot be placed are horizontal lines, so
    a run can be read against them; the frontier (no point more accurate at no more cost)
    is the green line.
    """
    from ferbench.report.frontier import frontier_rows

    return _frontier_figure(g.runs, frontier_rows(g.runs, g.baselines), _reference_lines(g), axis, title)


def plot_run_frontier(a: RunAnalysis, title: str, axis: str = "params") -> MplFigure:
    """One run's complete trials against ``axis``, its Pareto set (or best trial) and exported variants marked."""
    from ferbench.report.frontier import frontier_rows

    return _frontier_figure([a], frontier_rows([a], []), [], axis, title)


def _reference_lines(g: Group) -> list[Any]:
    return sorted((b for b in g.baselines if not b.params and (b.is_human or b in g.selected)), key=lambda b: b.accuracy)


def _short_number(v: float) -> str:
    """A tick label: ``0.2``, ``5``, ``50k``, ``2M``, ``1G``."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= size:
            return f"{v / size:g}{suffix}"
    return f"{v:g}"


def _frontier_figure(runs: Sequence[RunAnalysis], rows: Sequence[Any], lines: Sequence[Any], axis: str, title: str) -> MplFigure:
    import matplotlib
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from ferbench.report.frontier import AXES, on_front

    fig = new_figure(8, 5)
    ax = fig.add_subplot()
    colours = matplotlib.colormaps["tab10"]
    for i, a in enumerate(runs):
        pts = [(x, 100 * t.test.accuracy) for t in a.run.complete_trials if t.test is not None and (x := _axis_value(t, axis)) is not None]
        if pts:
            xs, ys = zip(*pts)
            ax.scatter(xs, ys, s=12, alpha=0.35, color=colours(i % 10))
    shown: set[str] = set()
    for r in rows:
        x = r.value(axis)
        if x is None:
            continue
        y = 100 * r.accuracy
        if r.kind == "baseline":
            ax.scatter([x], [y], s=70, marker="D", color="grey", zorder=4)
            ax.annotate(r.label, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
            continue
        colour = colours(r.series % 10)
        if r.kind == "export":
            label = None if r.variant in shown else f"exported: {r.variant}"
            shown.add(r.variant)
            ax.scatter([x], [y], s=60, marker=EXPORT_MARKERS.get(r.variant, "x"), color=colour, edgecolor="black", zorder=5, label=label)
            continue
        ax.scatter([x], [y], s=80, marker="o", color=colour, edgecolor="black", zorder=4, label=r.label)
    slot, last = 0, None
    for b in lines:
        y = 100 * b.accuracy
        # Labels of nearly equal lines would overprint: move each close one further right.
        slot = slot + 1 if last is not None and y - last < 0.8 else 0
        last = y
        ax.axhline(y, color="tab:red" if b.is_human else "grey", lw=0.9, ls="--" if b.is_human else ":")
        ax.annotate(f"{b.name} {y:.1f}%", (0.01 + 0.3 * (slot % 3), y), xycoords=("axes fraction", "data"), fontsize=7, va="bottom", color="dimgrey")
    front = sorted((rows[i].value(axis) or 0.0, 100 * rows[i].accuracy) for i in on_front(rows, axis))
    if len(front) > 1:
        ax.plot([p for p, _ in front], [acc for _, acc in front], color="tab:green", lw=1.2, label="frontier (most accurate for its cost)")
    ax.set_xscale("log")
    # Ticks at 1, 2 and 5 of each decade, labelled plainly (0.2, 5, 50k, 2M): over less than a decade
    # matplotlib's own log labels are one lone power of ten or overprinting minor labels.
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _short_number(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(AXES[axis][0])
    ax.set_ylabel("Test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    return fig


# --------------------------------------------------------------------------- per-run set

#: The frontier figures: axis, file-name key, what the x axis is in a title.
FRONTIER_FIGURES = (("params", "params", "parameters"), ("macs", "macs", "MACs"), ("latency_ms", "latency", "latency"))


def run_figures(a: RunAnalysis, folder: Path, *, seed: int = 0) -> tuple[list[Figure], list[str]]:
    """Every figure of one run; notes say which could not be drawn and why."""
    label, figs, notes = a.run.label, [], []
    steps: list[tuple[str, str, Callable[[], Any]]] = []
    if a.test is not None:
        cm, classes = a.test.confusion, a.run.classes
        steps.append(("confusion_raw", "Confusion matrix (test)", lambda: plot_confusion(cm, classes, normalised=False, title=f"{label}: confusion (test)")))
        steps.append(("confusion_normalised", "Normalised confusion matrix (test)",
                      lambda: plot_confusion(cm, classes, normalised=True, title=f"{label}: normalised confusion (test)")))
    done = a.run.complete_trials
    trained = [t for t in done if t.history]  # an evaluated model (`ferbench evaluate`) has no epochs to draw
    if trained:
        steps.append(("learning_curves", "Learning curves of every trial",
                      lambda: plot_learning_curves_all(trained, a.best, f"{label}: every trial")))
    elif done:
        notes.append(f"{label}: no training history (an evaluated model); no learning curves")
    if a.best is not None and a.best.history:
        best = a.best
        steps.append(("learning_curve_best", "Learning curve of the best trial", lambda: plot_learning_curve_best(best, f"{label}: best trial {best.number}")))
    obj = {"metric": a.run.info.objective.metric, "direction": a.run.info.objective.direction}
    if len(done) >= 1:
        steps.append(("optimisation_history", "Optimisation history",
                      lambda: plot_history(done, obj["direction"], obj["metric"], f"{label}: optimisation history")))
    names = search_plots.searched_names(done)
    if len(done) >= 2 and names:
        space = a.run.search_space
        steps.append(("parallel_coordinates", "Parallel coordinates",
                      lambda: search_plots.plot_parallel(done, space, obj, f"{label}: parallel coordinates")))
        steps.append(("param_importances", "Hyperparameter importances",
                      lambda: search_plots.plot_importances(done, space, f"{label}: hyperparameter importances", seed=seed)))
    elif done:
        notes.append(f"{label}: fewer than two complete trials or nothing searched; no parallel-coordinate or importance plot")
    if a.run.info.pareto is not None:  # several objectives: the run's own frontier
        for axis, key, what in FRONTIER_FIGURES:
            if any(_axis_value(t, axis) is not None for t in done):
                steps.append((f"pareto_{key}", f"Pareto set: accuracy against {what}",
                              functools.partial(plot_run_frontier, a, f"{label}: accuracy against {what}", axis)))
    from ferbench.report.evaluation_plots import evaluation_steps

    steps += evaluation_steps(a)
    for name, title, make in steps:
        figs.append(save(make(), folder, name, title))
    return figs, notes
