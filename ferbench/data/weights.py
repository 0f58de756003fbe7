"""Class weights for the loss (recorded with every run)."""

from __future__ import annotations

import numpy as np

from ferbench.errors import DataError
from ferbench.spec.types import LossSpec


def class_weights(y_train: np.ndarray, num_classes: int, loss: LossSpec) -> np.ndarray | None:
    """Per-class loss weights from the training labels, or ``None`` for ``class_weight: none``.

    - ``inverse_frequency``: n / (k · n_c), as Keras's and scikit-learn's "balanced"
      (the thesis's weighting); a class of average size gets 1.
    - ``effective_number`` (Cui et al. 2019, "Class-Balanced Loss Based on Effective
      Number of Samples"): (1 − β) / (1 − β^n_c), normalised to sum to k.
    """
    if loss.class_weight == "none":
        return None
    counts = np.bincount(np.asarray(y_train, np.int64), minlength=num_classes).astype(np.float64)
    if len(counts) > num_classes:
        raise DataError(f"class_weights: labels go up to {len(counts) - 1} but there are {num_classes} classes")
    if (counts == 0).any():
        empty = ", ".join(str(i) for i in np.flatnonzero(counts == 0))
        raise DataError(f"class_weights: class index(es) {empty} have no training samples; a weight would be infinite")
    if loss.class_weight == "inverse_frequency":
        return np.asarray(counts.sum() / (num_classes * counts))
    if loss.class_weight == "effective_number":
        beta = float(loss.beta)
        if not 0 < beta < 1:
            raise DataError(f"loss.beta must be in (0, 1) for effective_number, got {beta}")
        w = (1.0 - beta) / (1.0 - np.power(beta, counts))
        return np.asarray(w / w.sum() * num_classes)
    raise DataError(f"loss.class_weight: unknown weighting {loss.class_weight!r}; use none, inverse_frequency or effective_number")
