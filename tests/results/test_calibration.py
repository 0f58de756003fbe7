"""Temperature scaling: fitted on validation, it lowers the NLL of an over-confident model and keeps its accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from ferbench.results.calibration import apply_temperature, fit_temperature
from ferbench.results.metrics import cross_entropy, ece


def _overconfident(n: int, k: int, sharpen: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from calibrated probabilities, and those probabilities raised to ``sharpen`` (over-confident)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.2, (n, k))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in p])
    return y, apply_temperature(p, 1.0 / sharpen)


def test_temperature_scaling_lowers_the_nll_of_an_overconfident_model() -> None:
    y_val, p_val = _overconfident(600, 7, sharpen=3.0, seed=0)
    y_test, p_test = _overconfident(600, 7, sharpen=3.0, seed=1)
    t = fit_temperature(y_val, p_val)
    assert t == pytest.approx(3.0, rel=0.25)  # the sharpening it undoes
    before, after = cross_entropy(y_val, p_val), cross_entropy(y_val, apply_temperature(p_val, t))
    assert before is not None and after is not None and after < before - 0.1
    test_before, test_after = cross_entropy(y_test, p_test), cross_entropy(y_test, apply_temperature(p_test, t))
    assert test_before is not None and test_after is not None and test_after < test_before
    ece_before, ece_after = ece(y_test, p_test), ece(y_test, apply_temperature(p_test, t))
    assert ece_before is not None and ece_after is not None and ece_after < ece_before
    assert np.array_equal(apply_temperature(p_test, t).argmax(1), p_test.argmax(1))


def test_a_calibrated_model_keeps_a_temperature_near_one() -> None:
    y, p = _overconfident(2000, 5, sharpen=1.0, seed=2)
    assert fit_temperature(y, p) == pytest.approx(1.0, abs=0.15)


def test_temperature_one_is_the_identity_and_nothing_to_fit_is_one() -> None:
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    assert np.allclose(apply_temperature(p, 1.0), p, atol=1e-6)
    assert fit_temperature(np.zeros(0, np.int64), np.zeros((0, 3))) == 1.0
