"""Classification metrics of one split, from labels and predicted probabilities.

Everything here is computed from the two arrays a trial saves in
``predictions.npz``, so a record's numbers can be recomputed later without the
model (and a test does exactly that). No TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Probabilities are clipped before the log, as Keras does, so a confident wrong
#: answer costs -log(1e-7) ~ 16.1 instead of infinity.
EPSILON = 1e-7


def cross_entropy(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """Mean categorical cross-entropy of the probabilities (no class weights, no smoothing)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_prob, dtype=np.float64)
    if len(y_true) == 0:
        return float("nan")
    picked = p[np.arange(len(y_true)), y_true]
    return float(np.mean(-np.log(np.clip(picked, EPSILON, 1.0))))


def metrics_block(y_true: np.ndarray, y_prob: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """The record's metrics block ``M`` for one split (see docs/results-format.md).

    Precision, recall and F1 are scikit-learn's ``precision_recall_fscore_support``
    with ``zero_division=0`` over every class of the run (a class absent from the
    split still has a row, with support 0). Predictions are the arg-max class.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true = np.asarray(y_true, dtype=np.int64)
    y_prob = np.asarray(y_prob)
    k = len(classes)
    if y_prob.ndim != 2 or y_prob.shape[1] != k:
        raise ValueError(f"probabilities have shape {y_prob.shape}, expected (N, {k})")
    labels = list(range(k))
    y_pred = np.argmax(y_prob, axis=1)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out: dict[str, Any] = {
        "n": int(len(y_true)),
        "loss": cross_entropy(y_true, y_prob),
        "accuracy": float(np.mean(y_pred == y_true)) if len(y_true) else 0.0,
    }
    for avg in ("macro", "weighted"):
        pa, ra, fa, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=avg, zero_division=0)
        out[f"precision_{avg}"] = float(pa)
        out[f"recall_{avg}"] = float(ra)
        out[f"f1_{avg}"] = float(fa)
    out["per_class"] = {
        name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, name in enumerate(classes)
    }
    out["confusion"] = confusion_matrix(y_true, y_pred, labels=labels).astype(int).tolist()
    return out


def f1_macro(y_true: np.ndarray, y_prob: np.ndarray, num_classes: int) -> float:
    """Macro F1 of the arg-max predictions (the ``val_f1_macro`` objective)."""
    from sklearn.metrics import f1_score

    y_pred = np.argmax(np.asarray(y_prob), axis=1)
    return float(f1_score(np.asarray(y_true), y_pred, labels=list(range(num_classes)), average="macro", zero_division=0))
