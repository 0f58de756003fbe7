"""Figures of the evaluation protocols: the reliability diagram (before and after temperature
scaling), accuracy under corruptions by severity, and accuracy per group."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench.report.canvas import new_figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure as MplFigure

    from ferbench.report.analysis import RunAnalysis
    from ferbench.results.measures import RobustnessMetrics
    from ferbench.results.metrics import Fairness, Reliability


#: The solid colour of the reliability diagram's sample-share bars (a browser test finds the figure by it).
SHARE_COLOUR = "#c9b3e6"


def plot_reliability(curves: list[tuple[str, Reliability]], title: str) -> MplFigure:
    """Accuracy against confidence per bin (top label), with the diagonal of perfect calibration and bin counts."""
    fig = new_figure(5.5, 5)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfectly calibrated")
    for name, r in curves:
        conf, acc = np.array(r.confidence), np.array(r.accuracy)
        keep = ~np.isnan(conf)
        ax.plot(conf[keep], acc[keep], marker="o", label=f"{name} (ECE {r.ece:.3f})")
    edges = np.array(curves[0][1].edges)
    counts = np.array(curves[0][1].count, dtype=np.float64)
    if counts.sum() > 0:
        ax.bar(edges[:-1], counts / counts.sum(), width=np.diff(edges), align="edge", color=SHARE_COLOUR, label="share of samples",
               zorder=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Confidence (top-label probability)")
    ax.set_ylabel("Accuracy")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def plot_robustness(r: RobustnessMetrics, title: str) -> MplFigure:
    """Test accuracy by severity, one line per corruption, with the clean accuracy as a reference."""
    fig = new_figure(7, 4.5)
    ax = fig.add_subplot()
    for name, accs in r.accuracy.items():
        ax.plot(r.severities, accs, marker="o", label=name)
    ax.axhline(r.clean, color="black", ls="--", lw=1, label="clean")
    ax.set_xticks(list(r.severities))
    ax.set_xlabel("Severity")
    ax.set_ylabel("Test accuracy")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    return fig


def plot_fairness(f: Fairness, title: str) -> MplFigure:
    """Accuracy and macro F1 per group."""
    fig = new_figure(1.5 + 0.8 * len(f.groups), 4)
    ax = fig.add_subplot()
    x = np.arange(len(f.groups))
    ax.bar(x - 0.2, [g.accuracy for g in f.groups], width=0.4, label="accuracy")
    ax.bar(x + 0.2, [g.f1_macro for g in f.groups], width=0.4, label="F1 (macro)")
    ax.set_xticks(x, [f"{g.group}\n(n={g.n})" for g in f.groups])
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def evaluation_steps(a: RunAnalysis) -> list[tuple[str, str, Callable[[], Any]]]:
    """The figures of one run that its data allows: ``(file name, title, make)``."""
    label, steps = a.run.label, []
    if a.test is not None and a.test.reliability is not None:
        curves = [("as trained", a.test.reliability)]
        if a.calibrated is not None and a.calibrated.reliability is not None:
            curves.append((f"temperature {a.temperature:.2f}", a.calibrated.reliability))
        steps.append(("reliability", "Reliability diagram (test)", lambda: plot_reliability(curves, f"{label}: reliability (test)")))
    r = None if a.best is None else a.best.robustness
    if r is not None:
        steps.append(("robustness", "Accuracy under corruptions", lambda: plot_robustness(r, f"{label}: robustness (test)")))
    for f in a.fairness:
        steps.append((f"fairness_{f.attribute}", f"Accuracy by {f.attribute}",
                      functools.partial(plot_fairness, f, f"{label}: by {f.attribute} (test)")))
    return steps
