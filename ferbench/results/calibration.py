"""Temperature scaling (Guo et al. 2017): one temperature, fitted on the validation split.

The logits are recovered from the saved probabilities as ``log p`` (a softmax is
unchanged by a constant per row), divided by ``T`` and passed through a softmax
again; ``T`` minimises the validation negative log-likelihood of
:func:`ferbench.results.metrics.cross_entropy`. ``T > 1`` softens an
over-confident model; the arg-max, hence accuracy, never changes. No TensorFlow.
"""

from __future__ import annotations

import math

import numpy as np

from ferbench.results.metrics import EPSILON, cross_entropy

#: The temperatures searched (log-uniform bracket of a bounded scalar minimisation).
T_MIN, T_MAX = 0.05, 20.0


def apply_temperature(y_prob: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` row by row, float32 like the saved probabilities."""
    p = np.asarray(y_prob, dtype=np.float64)
    logits = np.log(np.clip(p, EPSILON, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    out: np.ndarray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


def fit_temperature(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """The temperature minimising the NLL of ``y_prob`` on ``y_true`` (1.0 when there is nothing to fit)."""
    from scipy.optimize import minimize_scalar

    y = np.asarray(y_true, dtype=np.int64)
    if len(y) == 0:
        return 1.0

    def nll(log_t: float) -> float:
        value = cross_entropy(y, apply_temperature(y_prob, math.exp(log_t)))
        return math.inf if value is None else value

    res = minimize_scalar(nll, bounds=(math.log(T_MIN), math.log(T_MAX)), method="bounded", options={"xatol": 1e-4})
    best = float(math.exp(res.x))
    return best if nll(math.log(best)) <= nll(0.0) else 1.0
