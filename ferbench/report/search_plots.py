"""Search plots from trial records alone: parallel coordinates and hyperparameter importances.

Importances approximate Optuna's default (fANOVA on a random forest) without Optuna:
a seeded scikit-learn random forest is fitted on params -> objective and its
impurity-based importances are normalised to sum to 1. Log-scaled dimensions are
fitted on log10 of the value, as Optuna does; choices are ordinal-encoded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench.report.canvas import new_figure
from ferbench.results import TrialRecord
from ferbench.results.read import finite

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure as MplFigure

N_TREES = 64
MAX_DEPTH = 64


def searched_names(trials: Sequence[TrialRecord]) -> list[str]:
    """Names of the searched params, in first-seen order."""
    return list(dict.fromkeys(k for t in trials for k in t.params))


def _is_log(name: str, space: Mapping[str, Any], values: np.ndarray) -> bool:
    dim = space.get(name)
    if isinstance(dim, Mapping) and "log" in dim:
        return bool(dim["log"])
    # Without the spec: a positive range over more than two decades is almost surely log-searched.
    return bool(len(values) and np.all(values > 0) and values.max() / values.min() > 100)


def design_matrix(trials: Sequence[TrialRecord], space: Mapping[str, Any]) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, list[Any]], set[str]]:
    """Complete trials with a finite objective as (names, X, y, levels, logs).

    ``levels`` maps categorical names to their ordered levels; ``logs`` names the
    dimensions whose column holds log10 of the value.
    """
    done = [t for t in trials if t.state == "complete" and finite(t.objective) is not None]
    names = searched_names(done)
    cols, levels, logs = [], {}, set()
    for n in names:
        vals = [t.params.get(n) for t in done]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            col = np.array(vals, dtype=np.float64)
            if _is_log(n, space, col):
                logs.add(n)
                col = np.log10(col)
            cols.append(col)
        else:
            lv = sorted({str(v) for v in vals})
            levels[n] = lv
            cols.append(np.array([lv.index(str(v)) for v in vals], dtype=np.float64))
    x = np.column_stack(cols) if cols else np.zeros((len(done), 0))
    y = np.array([t.objective for t in done], dtype=np.float64)
    return names, x, y, levels, logs


def param_importances(trials: Sequence[TrialRecord], space: Mapping[str, Any] | None = None, *, seed: int = 0) -> dict[str, float]:
    """Importance of each searched param for the objective, summing to 1 (largest first).

    Deterministic for a given ``seed``. Returns {} when there are fewer than two
    usable trials; a param that never varied gets 0.
    """
    from sklearn.ensemble import RandomForestRegressor

    names, x, y, _, _ = design_matrix(trials, space or {})
    if len(y) < 2 or not names:
        return {}
    if np.ptp(y) == 0:
        return {n: 0.0 for n in names}
    forest = RandomForestRegressor(n_estimators=N_TREES, max_depth=MAX_DEPTH, min_samples_split=2, min_samples_leaf=1, random_state=seed, n_jobs=1)
    forest.fit(x, y)
    imp = np.asarray(forest.feature_importances_, dtype=np.float64)
    total = imp.sum()
    imp = imp / total if total > 0 else imp
    return dict(sorted(zip(names, (float(v) for v in imp), strict=True), key=lambda kv: (-kv[1], kv[0])))


def plot_importances(trials: Sequence[TrialRecord], space: Mapping[str, Any], title: str, *, seed: int = 0) -> MplFigure:
    """Horizontal bars, most important at the top (as Optuna's plot)."""
    imp = param_importances(trials, space, seed=seed)
    names = list(imp)[::-1]
    fig = new_figure(7, 0.8 + 0.45 * max(len(names), 1))
    ax = fig.add_subplot()
    bars = ax.barh(names, [imp[n] for n in names], color="tab:blue")
    for bar, n in zip(bars, names, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {imp[n]:.2f}", va="center", fontsize=8)
    ax.set_xlim(0, max([*imp.values(), 0.1]) * 1.15)
    ax.set_xlabel("Importance for the objective (random forest, normalised)")
    ax.set_title(title)
    return fig


def plot_parallel(trials: Sequence[TrialRecord], space: Mapping[str, Any], objective: Mapping[str, str], title: str) -> MplFigure:
    """One vertical axis per searched param plus the objective; a line per trial, coloured by objective."""
    import matplotlib
    from matplotlib.colors import Normalize

    names, x, y, levels, logs = design_matrix(trials, space)
    data = np.column_stack([x, y]) if len(y) else np.zeros((0, len(names) + 1))
    labels = names + [objective["metric"]]
    lo, hi = data.min(axis=0), data.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    norm_data = (data - lo) / span
    fig = new_figure(max(6.0, 1.6 * len(labels)), 4.5)
    ax = fig.add_subplot()
    # Darker = better, whichever the direction (viridis is dark at its low end).
    cmap = matplotlib.colormaps["viridis" if objective["direction"] == "minimize" else "viridis_r"]
    cnorm = Normalize(vmin=float(y.min()), vmax=float(y.max()) if y.max() > y.min() else float(y.min()) + 1)
    xs = np.arange(len(labels))
    for row, obj in sorted(zip(norm_data, y, strict=True), key=lambda r: r[1], reverse=objective["direction"] == "minimize"):
        ax.plot(xs, row, color=cmap(cnorm(obj)), lw=1.2, alpha=0.8)
    log_flags = [n in logs for n in names] + [False]
    for i, n in enumerate(labels):
        ax.axvline(i, color="black", lw=0.8)
        if n in levels:
            lv = levels[n]
            for j, v in enumerate(lv):
                ax.text(i, j / max(len(lv) - 1, 1), f" {v}", fontsize=7, va="center")
        else:
            for frac, v in ((0.0, lo[i]), (1.0, hi[i])):
                ax.text(i, frac, f" {_short(10**v if log_flags[i] else v)}", fontsize=7, va="center")
    ax.set_xticks(xs, [f"{n}\n(log)" if flag else n for n, flag in zip(labels, log_flags, strict=True)], fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlim(-0.2, len(labels) - 0.6)
    sm = matplotlib.cm.ScalarMappable(norm=cnorm, cmap=cmap)
    fig.colorbar(sm, ax=ax, label=objective["metric"])
    ax.set_title(title)
    return fig


def _short(v: float) -> str:
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    return f"{v:.2e}" if abs(v) < 1e-2 or abs(v) >= 1e5 else f"{v:.3g}"
