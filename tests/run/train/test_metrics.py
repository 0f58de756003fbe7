"""Metrics blocks against scikit-learn, computed from labels and probabilities only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, log_loss, precision_recall_fscore_support

from ferbench.run.train.metrics import cross_entropy, f1_macro, metrics_block

CLASSES = ("angry", "happy", "sad")


def _probs(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    p = rng.random((n, k)).astype(np.float32) + 1e-3
    return p / p.sum(axis=1, keepdims=True)


def test_block_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50)
    p = _probs(rng, 50, 3)
    m = metrics_block(y, p, CLASSES)
    pred = p.argmax(1)
    assert m["n"] == 50
    assert m["accuracy"] == pytest.approx(np.mean(pred == y))
    for avg in ("macro", "weighted"):
        pr, rc, f1, _ = precision_recall_fscore_support(y, pred, labels=[0, 1, 2], average=avg, zero_division=0)
        assert (m[f"precision_{avg}"], m[f"recall_{avg}"], m[f"f1_{avg}"]) == (pr, rc, f1)
    assert m["confusion"] == confusion_matrix(y, pred, labels=[0, 1, 2]).tolist()
    p64 = p.astype(np.float64) / p.astype(np.float64).sum(axis=1, keepdims=True)
    assert m["loss"] == pytest.approx(log_loss(y, p64, labels=[0, 1, 2]), rel=1e-5)
    assert [m["per_class"][c]["support"] for c in CLASSES] == np.bincount(y, minlength=3).tolist()


def test_absent_class_has_a_row_and_zero_scores() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.1, 0.9, 0.0], [0.4, 0.6, 0.0]], dtype=np.float32)
    m = metrics_block(y, p, CLASSES)
    assert m["per_class"]["sad"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert len(m["confusion"]) == 3 and all(len(r) == 3 for r in m["confusion"])


def test_cross_entropy_clips_zero_probabilities() -> None:
    y = np.array([2])
    p = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    assert cross_entropy(y, p) == pytest.approx(-np.log(1e-7))


def test_f1_macro_matches_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 40)
    p = _probs(rng, 40, 3)
    assert f1_macro(y, p, 3) == f1_score(y, p.argmax(1), labels=[0, 1, 2], average="macro", zero_division=0)


def test_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="expected"):
        metrics_block(np.array([0]), np.ones((1, 2), np.float32), CLASSES)
