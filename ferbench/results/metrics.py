"""Every metric of ferbench, computed from labels and predicted probabilities only.

The one owner of the numbers: training (a record's metrics blocks and the
``val_f1_macro`` / ``val_balanced_accuracy`` epoch logs), ``ferbench evaluate``,
``ferbench export`` and ``ferbench report`` all call these functions on the arrays a
trial saves in ``predictions.npz``, so a report recomputes exactly what the record
holds. The report adds only confidence intervals and tests (``report/stats.py``).
No TensorFlow here; scikit-learn only for precision, recall and F1.

- **Cross-entropy / NLL**: probabilities renormalised per row in float64 (saved
  float32 rows rarely sum to exactly 1), then clipped at :data:`EPSILON` as Keras
  does, so a confident wrong answer costs ``-log(1e-7) ~ 16.1``, not infinity.
- **Balanced accuracy** (UAR): the mean recall over the classes present in the labels.
- **Cohen's kappa**: agreement beyond chance, from the confusion matrix.
- **Brier score**: mean over samples of ``sum_k (p_k - [y = k])^2`` (0 best, 2 worst).
- **ECE**: top-label expected calibration error over :data:`ECE_BINS` equal-width
  bins of confidence ``(m-1)/M < conf <= m/M`` (Guo et al. 2017); the confidence is
  the arg-max probability as saved.
- **Soft labels** (FER+ votes): NLL against the vote distribution, and ECE with the
  vote share of the predicted class in place of 0/1 correctness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Probabilities are clipped here before the log (Keras's epsilon).
EPSILON = 1e-7
#: Equal-width confidence bins of the expected calibration error.
ECE_BINS = 15


def _normalised(y_prob: np.ndarray) -> np.ndarray:
    p = np.asarray(y_prob, dtype=np.float64)
    total = p.sum(axis=1, keepdims=True)
    out: np.ndarray = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
    return out


def cross_entropy(y_true: np.ndarray, y_prob: np.ndarray) -> float | None:
    """Mean categorical cross-entropy (the NLL) of the probabilities; ``None`` when empty or not finite."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_prob, dtype=np.float64)
    if len(y) == 0 or not np.all(np.isfinite(p)) or np.any(p.sum(axis=1) <= 0):
        return None
    picked = _normalised(p)[np.arange(len(y)), y]
    return float(np.mean(-np.log(np.clip(picked, EPSILON, 1.0))))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """``k x k`` counts, rows = true class, columns = predicted."""
    cell = np.asarray(y_true, dtype=np.int64) * k + np.asarray(y_pred, dtype=np.int64)
    cm: np.ndarray = np.bincount(cell, minlength=k * k).reshape(k, k)
    return cm


def recalls(cm: np.ndarray) -> np.ndarray:
    """Per-class recall of one or a stack of confusion matrices (NaN for a class with no samples)."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(np.float64)
    support = cm.sum(axis=-1).astype(np.float64)
    out: np.ndarray = np.divide(tp, support, out=np.full_like(tp, np.nan), where=support > 0)
    return out


def balanced_accuracy_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Mean recall over the classes with samples, for one or a stack of confusion matrices."""
    r = recalls(cm)
    present = ~np.isnan(r)
    count = present.sum(axis=-1)
    total = np.where(present, r, 0.0).sum(axis=-1)
    out: np.ndarray = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return out


def balanced_accuracy(y_true: np.ndarray, y_prob: np.ndarray, k: int) -> float:
    """Balanced accuracy (UAR) of the arg-max predictions."""
    pred = np.asarray(y_prob).argmax(axis=1)
    return float(balanced_accuracy_from_confusion(confusion(y_true, pred, k)))


def kappa_from_confusion(cm: np.ndarray) -> float:
    """Cohen's kappa ``(p_o - p_e) / (1 - p_e)``; 0 where agreement by chance is certain."""
    c = np.asarray(cm, dtype=np.float64)
    n = c.sum()
    if n == 0:
        return 0.0
    p_o = np.trace(c) / n
    p_e = float(np.sum(c.sum(axis=0) * c.sum(axis=1))) / (n * n)
    return 0.0 if p_e >= 1.0 else float((p_o - p_e) / (1.0 - p_e))


def brier(y_true: np.ndarray, y_prob: np.ndarray) -> float | None:
    """Multi-class Brier score: mean of ``sum_k (p_k - onehot_k)^2``."""
    y = np.asarray(y_true, dtype=np.int64)
    if len(y) == 0:
        return None
    p = _normalised(y_prob)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


@dataclass(frozen=True)
class Reliability:
    """Top-label reliability diagram: per bin its count, mean confidence and accuracy (NaN when empty)."""

    edges: tuple[float, ...]
    count: tuple[int, ...]
    confidence: tuple[float, ...]
    accuracy: tuple[float, ...]

    @property
    def ece(self) -> float:
        n = sum(self.count)
        if n == 0:
            return 0.0
        return float(sum(c / n * abs(a - f) for c, a, f in zip(self.count, self.accuracy, self.confidence, strict=True) if c))


def reliability(y_correct: np.ndarray, confidence: np.ndarray, bins: int = ECE_BINS) -> Reliability:
    """Bin samples by confidence into ``(m-1)/M < conf <= m/M``; ``y_correct`` may be 0/1 or a vote share."""
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(y_correct, dtype=np.float64)
    edges = np.arange(bins + 1) / bins  # m / M correctly rounded, so 0.6 is the top of bin 9 of 15
    index = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    conf_sum = np.bincount(index, weights=conf, minlength=bins)
    hit_sum = np.bincount(index, weights=hit, minlength=bins)
    safe = np.maximum(count, 1)
    return Reliability(
        edges=tuple(float(e) for e in edges),
        count=tuple(int(c) for c in count),
        confidence=tuple(float(v) if c else float("nan") for v, c in zip(conf_sum / safe, count, strict=True)),
        accuracy=tuple(float(v) if c else float("nan") for v, c in zip(hit_sum / safe, count, strict=True)),
    )


def top_label_reliability(y_true: np.ndarray, y_prob: np.ndarray, bins: int = ECE_BINS) -> Reliability:
    """The reliability diagram of the arg-max class's probability, as saved, against whether it is right."""
    p = np.asarray(y_prob, dtype=np.float64)
    pred = p.argmax(axis=1)
    return reliability(pred == np.asarray(y_true), np.clip(p.max(axis=1), 0.0, 1.0), bins)


def ece(y_true: np.ndarray, y_prob: np.ndarray, bins: int = ECE_BINS) -> float | None:
    """Top-label expected calibration error (Guo et al. 2017); ``None`` when empty."""
    if len(np.asarray(y_true)) == 0:
        return None
    return top_label_reliability(y_true, y_prob, bins).ece


def soft_nll(votes: np.ndarray, y_prob: np.ndarray) -> float | None:
    """Cross-entropy against the vote distribution: mean of ``-sum_k q_k log p_k``."""
    q = _normalised(votes)
    if len(q) == 0:
        return None
    p = np.clip(_normalised(y_prob), EPSILON, 1.0)
    return float(np.mean(-np.sum(q * np.log(p), axis=1)))


def soft_ece(votes: np.ndarray, y_prob: np.ndarray, bins: int = ECE_BINS) -> float | None:
    """ECE with the vote share of the predicted class as its correctness."""
    q, p = _normalised(votes), np.asarray(y_prob, dtype=np.float64)
    if len(q) == 0:
        return None
    pred = p.argmax(axis=1)
    return reliability(q[np.arange(len(q)), pred], np.clip(p.max(axis=1), 0.0, 1.0), bins).ece


def f1_macro(y_true: np.ndarray, y_prob: np.ndarray, num_classes: int) -> float:
    """Macro F1 of the arg-max predictions (the ``val_f1_macro`` objective)."""
    from sklearn.metrics import f1_score

    y_pred = np.argmax(np.asarray(y_prob), axis=1)
    return float(f1_score(np.asarray(y_true), y_pred, labels=list(range(num_classes)), average="macro", zero_division=0))


def _prf(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> dict[str, Any]:
    from sklearn.metrics import precision_recall_fscore_support

    labels = list(range(k))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out: dict[str, Any] = {"per_class": (p, r, f, s)}
    for avg in ("macro", "weighted"):
        pa, ra, fa, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=avg, zero_division=0)
        out[f"precision_{avg}"], out[f"recall_{avg}"], out[f"f1_{avg}"] = float(pa), float(ra), float(fa)
    return out


def metrics_block(y_true: np.ndarray, y_prob: np.ndarray, classes: Sequence[str], *, votes: np.ndarray | None = None) -> dict[str, Any]:
    """The record's metrics block ``M`` for one split (see docs/results-format.md).

    Precision, recall and F1 are scikit-learn's ``precision_recall_fscore_support``
    with ``zero_division=0`` over every class of the run (a class absent from the
    split still has a row, with support 0). Predictions are the arg-max class.
    ``votes`` (FER+: each sample's vote distribution, N×K) adds ``soft_nll`` and ``soft_ece``.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_prob = np.asarray(y_prob)
    k = len(classes)
    if y_prob.ndim != 2 or y_prob.shape[1] != k:
        raise ValueError(f"probabilities have shape {y_prob.shape}, expected (N, {k})")
    y_pred = np.argmax(y_prob, axis=1)
    cm = confusion(y_true, y_pred, k)
    prf = _prf(y_true, y_pred, k)
    p, r, f, s = prf.pop("per_class")
    out: dict[str, Any] = {
        "n": int(len(y_true)),
        "loss": cross_entropy(y_true, y_prob),
        "accuracy": float(np.mean(y_pred == y_true)) if len(y_true) else 0.0,
        **prf,
        "per_class": {name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                      for i, name in enumerate(classes)},
        "confusion": cm.astype(int).tolist(),
        "balanced_accuracy": float(balanced_accuracy_from_confusion(cm)),
        "kappa": kappa_from_confusion(cm),
        "brier": brier(y_true, y_prob),
        "ece": ece(y_true, y_prob),
    }
    if votes is not None:
        if np.shape(votes) != y_prob.shape:
            raise ValueError(f"vote distributions have shape {np.shape(votes)}, expected {y_prob.shape}")
        out["soft_nll"], out["soft_ece"] = soft_nll(votes, y_prob), soft_ece(votes, y_prob)
    return out


@dataclass(frozen=True)
class GroupScores:
    """One group's scores: accuracy, macro F1, and per class recall and false-positive rate (NaN: undefined)."""

    group: str
    n: int
    accuracy: float
    f1_macro: float
    recall: tuple[float, ...]
    fpr: tuple[float, ...]


@dataclass(frozen=True)
class Fairness:
    """Scores per group of one attribute, the worst group, the largest accuracy gap, the equalized-odds gap."""

    attribute: str
    groups: tuple[GroupScores, ...]

    @property
    def worst(self) -> GroupScores | None:
        return min(self.groups, key=lambda g: g.accuracy, default=None)

    @property
    def accuracy_gap(self) -> float:
        acc = [g.accuracy for g in self.groups]
        return max(acc) - min(acc) if acc else 0.0

    @property
    def equalized_odds_gap(self) -> float:
        """The largest difference across groups of any class's recall or false-positive rate."""
        gaps = [0.0]
        for rates in ([g.recall for g in self.groups], [g.fpr for g in self.groups]):
            table = np.array(rates, dtype=np.float64)
            for column in table.T:
                defined = column[~np.isnan(column)]
                if len(defined) >= 2:
                    gaps.append(float(defined.max() - defined.min()))
        return max(gaps)


def group_scores(name: str, y_true: np.ndarray, y_pred: np.ndarray, k: int) -> GroupScores:
    """Accuracy, macro F1 (every class, zero_division=0) and per-class recall and FPR of one group's samples."""
    cm = confusion(y_true, y_pred, k).astype(np.float64)
    n = int(cm.sum())
    tp = np.diag(cm)
    fp, fn = cm.sum(axis=0) - tp, cm.sum(axis=1) - tp
    negatives = n - cm.sum(axis=1)
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros(k), where=(2 * tp + fp + fn) > 0)
    fpr = np.divide(fp, negatives, out=np.full(k, np.nan), where=negatives > 0)
    return GroupScores(group=name, n=n, accuracy=float(tp.sum() / n) if n else 0.0, f1_macro=float(f1.mean()),
                       recall=tuple(float(r) for r in recalls(cm)), fpr=tuple(float(v) for v in fpr))


def fairness(attribute: str, y_true: np.ndarray, y_pred: np.ndarray, groups: Sequence[str], k: int) -> Fairness:
    """Scores of each value of ``attribute`` (``groups[i]`` is sample i's value; empty values are left out)."""
    y, p, g = np.asarray(y_true), np.asarray(y_pred), np.asarray(groups, dtype=object)
    names = sorted({str(v) for v in g if v not in ("", None)})
    return Fairness(attribute, tuple(group_scores(v, y[g == v], p[g == v], k) for v in names))


@dataclass(frozen=True)
class SeedSummary:
    """A metric over seeds: mean, sample standard deviation and a Student-t interval of the mean."""

    values: tuple[float, ...]
    mean: float
    sd: float
    low: float
    high: float


def seed_summary(values: Sequence[float], confidence: float = 0.95) -> SeedSummary:
    """Mean ± sd of one metric over runs that differ only by seed, with a t interval (none for one seed)."""
    from scipy.stats import t as student

    v = np.asarray(values, dtype=np.float64)
    mean = float(v.mean()) if len(v) else float("nan")
    if len(v) < 2:
        return SeedSummary(tuple(v.tolist()), mean, float("nan"), float("nan"), float("nan"))
    sd = float(v.std(ddof=1))
    half = float(student.ppf((1 + confidence) / 2, len(v) - 1)) * sd / np.sqrt(len(v))
    return SeedSummary(tuple(v.tolist()), mean, sd, mean - half, mean + half)


@dataclass(frozen=True)
class SeedTest:
    """A paired t-test over seeds of B - A (one value per shared seed)."""

    seeds: tuple[int, ...]
    differences: tuple[float, ...]
    mean_difference: float
    sd_difference: float
    p_value: float

    def sentence(self, metric: str, a: str, b: str, alpha: float = 0.05) -> str:
        """The verdict in words: whether the difference exceeds the spread across seeds."""
        n = len(self.seeds)
        d = f"{self.mean_difference:+.4f}"
        if n < 2 or not np.isfinite(self.p_value):
            return f"{b} vs {a}: mean {metric} difference {d} over {n} seed(s); too few shared seeds to tell it from seed noise."
        if self.p_value < alpha:
            return (f"{b} vs {a}: mean {metric} difference {d} over {n} seeds (sd {self.sd_difference:.4f}, paired t-test "
                    f"p = {self.p_value:.3g}): the difference exceeds seed noise.")
        return (f"{b} vs {a}: mean {metric} difference {d} over {n} seeds (sd {self.sd_difference:.4f}, paired t-test "
                f"p = {self.p_value:.3g}): the difference does not exceed seed noise.")


def paired_seed_test(a: dict[int, float], b: dict[int, float]) -> SeedTest:
    """Paired t-test of ``b[seed] - a[seed]`` over the seeds both have."""
    from scipy.stats import ttest_rel

    seeds = tuple(sorted(set(a) & set(b)))
    diff = np.array([b[s] - a[s] for s in seeds], dtype=np.float64)
    if len(diff) < 2:
        p = float("nan")
    elif np.allclose(diff, diff[0]):
        p = 0.0 if diff[0] != 0 else 1.0  # no spread: any non-zero difference is systematic
    else:
        p = float(ttest_rel([b[s] for s in seeds], [a[s] for s in seeds]).pvalue)
    return SeedTest(seeds=seeds, differences=tuple(diff.tolist()), mean_difference=float(diff.mean()) if len(diff) else float("nan"),
                    sd_difference=float(diff.std(ddof=1)) if len(diff) >= 2 else float("nan"), p_value=p)
