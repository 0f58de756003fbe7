"""Metrics blocks against scikit-learn, computed from labels and probabilities only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, log_loss, precision_recall_fscore_support

from ferbench.results.metrics import cross_entropy, f1_macro, metrics_block

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


def test_balanced_accuracy_and_kappa_match_sklearn() -> None:
    from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score

    rng = np.random.default_rng(2)
    for n, k in ((60, 3), (200, 7), (9, 7)):  # the last leaves classes without samples
        y = rng.integers(0, k, n)
        p = _probs(rng, n, k)
        m = metrics_block(y, p, tuple(f"c{i}" for i in range(k)))
        pred = p.argmax(1)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected_bal = balanced_accuracy_score(y, pred)
        assert m["balanced_accuracy"] == pytest.approx(expected_bal, abs=1e-12)
        assert m["kappa"] == pytest.approx(cohen_kappa_score(y, pred), abs=1e-12)


def _nll_by_hand(y: list[int], p: list[list[float]]) -> float:
    import math

    total = 0.0
    for label, row in zip(y, p, strict=True):
        s = sum(row)
        total += -math.log(max(row[label] / s, 1e-7))
    return total / len(y)


def _brier_by_hand(y: list[int], p: list[list[float]]) -> float:
    total = 0.0
    for label, row in zip(y, p, strict=True):
        total += sum((v - (1.0 if j == label else 0.0)) ** 2 for j, v in enumerate(row))
    return total / len(y)


HAND_Y = [0, 1, 2, 0, 1]
HAND_P = [[0.95, 0.03, 0.02], [0.30, 0.60, 0.10], [0.50, 0.20, 0.30], [0.35, 0.33, 0.32], [0.05, 0.90, 0.05]]


def test_nll_and_brier_match_a_plain_python_implementation() -> None:
    from ferbench.results.metrics import brier

    y, p = np.array(HAND_Y), np.array(HAND_P)
    assert cross_entropy(y, p) == pytest.approx(_nll_by_hand(HAND_Y, HAND_P), rel=1e-12)
    assert brier(y, p) == pytest.approx(_brier_by_hand(HAND_Y, HAND_P), rel=1e-12)
    # Unnormalised float32 rows are renormalised first, as the report has always done.
    assert cross_entropy(y, (p * 3).astype(np.float32)) == pytest.approx(_nll_by_hand(HAND_Y, HAND_P), rel=1e-6)


def test_ece_worked_by_hand() -> None:
    """Confidences 0.95, 0.60, 0.50, 0.35, 0.90 fall in the 15-bin intervals (m-1)/15 < c <= m/15:
    0.95 -> bin 15 (14/15=.933 < .95), right; 0.90 -> bin 14 (.867 < .9 <= .933), right;
    0.60 -> bin 9 (.533 < .6 <= .6), right; 0.50 -> bin 8 (.467 < .5 <= .533), wrong (true 2);
    0.35 -> bin 6 (.333 < .35 <= .4), right.
    Every bin holds one sample, so ECE = (1/5) * sum |acc - conf|
    = (|1-.95| + |1-.9| + |1-.6| + |0-.5| + |1-.35|) / 5 = (.05 + .1 + .4 + .5 + .65) / 5 = 0.34."""
    from ferbench.results.metrics import ece, top_label_reliability

    y, p = np.array(HAND_Y), np.array(HAND_P)
    assert ece(y, p) == pytest.approx(0.34, abs=1e-12)
    rel = top_label_reliability(y, p)
    assert [i + 1 for i, c in enumerate(rel.count) if c] == [6, 8, 9, 14, 15]
    assert rel.accuracy[7] == 0.0 and rel.confidence[7] == pytest.approx(0.5)


def test_ece_pools_samples_of_one_bin() -> None:
    """Two samples in one bin: |mean acc - mean conf| weighted by 2/3, not each |acc - conf|."""
    from ferbench.results.metrics import ece

    y = np.array([0, 1, 0])
    p = np.array([[0.7, 0.3], [0.7, 0.3], [0.1, 0.9]])  # 0.7, 0.7 in bin 11; 0.9 in bin 14, wrong
    assert ece(y, p) == pytest.approx(2 / 3 * abs(0.5 - 0.7) + 1 / 3 * abs(0.0 - 0.9))


def test_soft_label_nll_and_ece() -> None:
    from ferbench.results.metrics import soft_ece, soft_nll

    votes = np.array([[8, 2, 0], [0, 5, 5]])
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    expected = -(0.8 * np.log(0.6) + 0.2 * np.log(0.3) + 0.5 * np.log(0.5) + 0.5 * np.log(0.3)) / 2
    assert soft_nll(votes, p) == pytest.approx(expected)
    # Confidences 0.6 (bin 9) and 0.5 (bin 8); correctness = vote share of the predicted class: 0.8 and 0.5.
    assert soft_ece(votes, p) == pytest.approx((abs(0.8 - 0.6) + abs(0.5 - 0.5)) / 2)


def test_the_report_recomputes_the_record_exactly() -> None:
    """One formula: the report's numbers from saved predictions are the record's."""
    from ferbench.report.stats import scores_from_predictions

    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 80)
    p = _probs(rng, 80, 3)
    p[0] = [1.0, 0.0, 0.0]  # a zero probability: clipping must agree too
    m = metrics_block(y, p, CLASSES)
    s = scores_from_predictions(y, p, CLASSES, resamples=50)
    assert (s.loss, s.accuracy.value, s.balanced_accuracy.value, s.kappa, s.brier, s.ece) == (
        m["loss"], m["accuracy"], m["balanced_accuracy"], m["kappa"], m["brier"], m["ece"])
    assert s.balanced_accuracy.has_ci
