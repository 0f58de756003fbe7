"""Bootstrap intervals, exact McNemar and Holm, checked against scikit-learn and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from ferbench.report.stats import bootstrap_ci, holm, macro_f1_from_confusion, mcnemar_exact, scores_from_predictions

FER_TEST = 7178  # PublicTest + PrivateTest, the thesis's test set


def _pair(n: int, correct_a: int, correct_b: int, both: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two prediction vectors with exactly the given numbers of right answers."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 7, size=n)
    order = rng.permutation(n)
    only_a, only_b = correct_a - both, correct_b - both
    a_right = np.zeros(n, bool)
    b_right = np.zeros(n, bool)
    a_right[order[:both]] = b_right[order[:both]] = True
    a_right[order[both : both + only_a]] = True
    b_right[order[both + only_a : both + only_a + only_b]] = True
    wrong = (y + rng.integers(1, 7, size=n)) % 7
    return y, np.where(a_right, y, wrong), np.where(b_right, y, wrong)


def test_thesis_difference_is_not_significant():
    # 65.8% vs 65.7% of 7,178 (thesis Tables 5.2 and 5.4), with realistic disagreement between models.
    ca, cb = round(0.658 * FER_TEST), round(0.657 * FER_TEST)
    y, a, b = _pair(FER_TEST, ca, cb, both=4200)
    assert accuracy_score(y, a) == pytest.approx(0.658, abs=1e-4)
    assert accuracy_score(y, b) == pytest.approx(0.657, abs=1e-4)
    t = mcnemar_exact(y, a, b)
    assert (t.a_only, t.b_only) == (ca - 4200, cb - 4200)
    assert t.p_value == pytest.approx(binomtest(t.a_only, t.a_only + t.b_only, 0.5).pvalue, rel=1e-9)
    assert not t.significant and t.p_value > 0.5


def test_real_difference_is_significant():
    y, a, b = _pair(FER_TEST, round(0.70 * FER_TEST), round(0.65 * FER_TEST), both=4300)
    t = mcnemar_exact(y, a, b)
    assert t.significant and t.p_value < 1e-6
    assert t.p_value == pytest.approx(binomtest(t.a_only, t.a_only + t.b_only, 0.5).pvalue, rel=1e-6)


def test_mcnemar_identical_predictions():
    y, a, _ = _pair(100, 60, 60, 60)
    t = mcnemar_exact(y, a, a)
    assert t.p_value == 1.0 and t.a_only == t.b_only == 0


def test_macro_f1_from_confusion_equals_sklearn_even_with_absent_classes():
    rng = np.random.default_rng(3)
    for _ in range(20):
        y = rng.integers(0, 6, size=80)  # class 6 never occurs
        p = rng.integers(0, 7, size=80)
        cm = confusion_matrix(y, p, labels=range(7))
        assert macro_f1_from_confusion(cm) == pytest.approx(f1_score(y, p, labels=range(7), average="macro", zero_division=0), abs=1e-12)


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    y, a, _ = _pair(FER_TEST, 4723, 4716, 4200)
    one = bootstrap_ci(y, a, 7, seed=0)
    assert one == bootstrap_ci(y, a, 7, seed=0)
    assert one != bootstrap_ci(y, a, 7, seed=1)
    (lo, hi), (flo, fhi) = one
    acc = accuracy_score(y, a)
    assert lo < acc < hi and 0.015 < hi - lo < 0.03  # ~±1.1 pp for n=7178 at 66%
    f1 = f1_score(y, a, average="macro")
    assert flo < f1 < fhi


def test_scores_from_predictions_equal_sklearn():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 7, size=300)
    prob = rng.random((300, 7)).astype(np.float32)
    s = scores_from_predictions(y, prob, [f"c{i}" for i in range(7)], resamples=200)
    pred = prob.argmax(1)
    assert s.accuracy.value == accuracy_score(y, pred)
    assert s.f1_macro.value == pytest.approx(f1_score(y, pred, average="macro", zero_division=0), abs=1e-15)
    assert (s.confusion == confusion_matrix(y, pred, labels=range(7))).all()
    assert s.loss is not None and s.loss > 0


def test_holm():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []
