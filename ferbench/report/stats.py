"""Metrics from saved predictions, bootstrap confidence intervals and paired tests.

Point estimates come from :mod:`ferbench.results.metrics`, the module that writes the
records, recomputed from ``predictions.npz``; this module adds only intervals and tests.
Confidence intervals are percentile bootstraps over test samples with a fixed seed;
the paired test between two runs scored on the same test set is the exact (binomial)
McNemar test on the samples where exactly one of them is right.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ferbench.results.metrics import Reliability, balanced_accuracy_from_confusion, kappa_from_confusion

if TYPE_CHECKING:
    from ferbench.results.measures import SplitMetrics

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
ALPHA = 0.05


@dataclass(frozen=True)
class Estimate:
    """A point estimate with an optional confidence interval."""

    value: float
    low: float | None = None
    high: float | None = None

    @property
    def has_ci(self) -> bool:
        return self.low is not None and self.high is not None and math.isfinite(self.low) and math.isfinite(self.high)


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Scores:
    """Every metric a report shows for one split of one trial."""

    n: int
    accuracy: Estimate
    loss: float | None
    precision_macro: float
    recall_macro: float
    f1_macro: Estimate
    precision_weighted: float
    recall_weighted: float
    f1_weighted: float
    per_class: dict[str, ClassScores]
    confusion: np.ndarray  # rows = true, columns = predicted
    from_predictions: bool  # False: taken from the record (no predictions.npz)
    balanced_accuracy: Estimate = Estimate(math.nan)
    kappa: float | None = None
    brier: float | None = None
    ece: float | None = None
    reliability: Reliability | None = None  # only from predictions

    @property
    def nll(self) -> float | None:
        return self.loss


def scores_from_predictions(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    classes: Sequence[str],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Scores:
    """The record's metrics recomputed from the saved predictions (:mod:`ferbench.results.metrics`), with bootstrap CIs."""
    from ferbench.results.measures import SplitMetrics
    from ferbench.results.metrics import metrics_block, top_label_reliability

    m = SplitMetrics.from_dict(metrics_block(y_true, y_prob, classes))
    y_pred = np.asarray(y_prob).argmax(axis=1)
    ok = resamples > 0 and len(y_true) > 0
    ci = bootstrap_intervals(y_true, y_pred, len(classes), resamples=resamples, seed=seed) if ok else {}
    base = scores_from_record(m, classes)
    return dataclasses.replace(
        base, accuracy=Estimate(m.accuracy, *ci.get("accuracy", (None, None))),
        f1_macro=Estimate(m.f1_macro, *ci.get("f1_macro", (None, None))),
        balanced_accuracy=Estimate(base.balanced_accuracy.value, *ci.get("balanced_accuracy", (None, None))),
        reliability=top_label_reliability(y_true, y_prob) if len(y_true) else None, from_predictions=True,
    )


def scores_from_record(m: SplitMetrics, classes: Sequence[str]) -> Scores:
    """The trainer's own numbers (a :class:`ferbench.results.SplitMetrics`), without CIs."""
    return Scores(
        n=m.n,
        accuracy=Estimate(m.accuracy),
        loss=m.loss,
        precision_macro=m.precision_macro,
        recall_macro=m.recall_macro,
        f1_macro=Estimate(m.f1_macro),
        precision_weighted=m.precision_weighted,
        recall_weighted=m.recall_weighted,
        f1_weighted=m.f1_weighted,
        per_class={c: ClassScores(precision=float(pc["precision"]), recall=float(pc["recall"]), f1=float(pc["f1"]),
                                  support=int(pc["support"]))
                   for c in classes if (pc := m.per_class.get(c)) is not None},
        confusion=(cm := np.asarray(m.confusion, dtype=np.int64)),
        from_predictions=False,
        # Older records lack them: recomputed from the confusion matrix where possible.
        balanced_accuracy=Estimate(m.balanced_accuracy if m.balanced_accuracy is not None
                                   else float(balanced_accuracy_from_confusion(cm)) if cm.size else math.nan),
        kappa=m.kappa if m.kappa is not None else (kappa_from_confusion(cm) if cm.size else None),
        brier=m.brier,
        ece=m.ece,
    )


def macro_f1_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Macro F1 of one or a stack of confusion matrices (``[..., K, K]``), as scikit-learn with zero_division=0."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(np.float64)
    fp = cm.sum(axis=-2) - tp
    fn = cm.sum(axis=-1) - tp
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    mean: np.ndarray = f1.mean(axis=-1)
    return mean


def bootstrap_ci(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    k: int,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Percentile bootstrap CIs of accuracy and macro F1, resampling test samples with replacement."""
    ci = bootstrap_intervals(y_true, y_pred, k, resamples=resamples, seed=seed, confidence=confidence)
    return ci["accuracy"], ci["f1_macro"]


def bootstrap_intervals(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    k: int,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
    chunk: int = 250,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap CIs of accuracy, macro F1 and balanced accuracy.

    Each resample's confusion matrix is counted with one ``bincount`` so 2,000 resamples
    of 7,178 samples take well under a second.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    n = len(y_true)
    names = ("accuracy", "f1_macro", "balanced_accuracy")
    if n == 0 or resamples <= 0:
        return dict.fromkeys(names, (math.nan, math.nan))
    rng = np.random.default_rng(seed)
    cell = y_true * k + y_pred
    values: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        idx = rng.integers(0, n, size=(b, n))
        flat = (np.arange(b)[:, None] * (k * k) + cell[idx]).ravel()
        cms = np.bincount(flat, minlength=b * k * k).reshape(b, k, k)
        values["accuracy"].append(np.trace(cms, axis1=1, axis2=2) / n)
        values["f1_macro"].append(macro_f1_from_confusion(cms))
        values["balanced_accuracy"].append(balanced_accuracy_from_confusion(cms))
    lo, hi = (1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100
    return {name: (float(np.percentile(np.concatenate(v), lo)), float(np.percentile(np.concatenate(v), hi)))
            for name, v in values.items()}


@dataclass(frozen=True)
class McNemar:
    """Exact McNemar test of two classifiers on the same samples."""

    n: int
    a_only: int  # A right, B wrong
    b_only: int  # B right, A wrong
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def mcnemar_exact(y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> McNemar:
    """Two-sided exact McNemar: ``p = min(1, 2 * P[X <= min(b, c)])`` with ``X ~ Binomial(b + c, 1/2)``."""
    from scipy.stats import binom

    y_true, pred_a, pred_b = (np.asarray(x) for x in (y_true, pred_a, pred_b))
    if not (len(y_true) == len(pred_a) == len(pred_b)):
        raise ValueError("McNemar needs predictions of the same samples")
    ra, rb = pred_a == y_true, pred_b == y_true
    b, c = int(np.sum(ra & ~rb)), int(np.sum(~ra & rb))
    p = 1.0 if b + c == 0 else min(1.0, 2.0 * float(binom.cdf(min(b, c), b + c, 0.5)))
    return McNemar(n=int(len(y_true)), a_only=b, b_only=c, p_value=p)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (same order as given), for several pairwise tests at once."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
