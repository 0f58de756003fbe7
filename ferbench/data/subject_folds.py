"""Subject-independent k-fold cross-validation (``dataset.folds: {k, by: subject}``).

Every labelled image of the spec's splits is pooled and its subjects are dealt into
``k`` folds (scikit-learn's ``StratifiedGroupKFold``: stratified by class where the
subjects allow, shuffled with the run's seed), so no subject is in two folds. Fold
``f`` is the test set, fold ``f % k + 1`` validates, the others train: every image
is tested exactly once over the ``k`` runs, and no person is both trained and
scored on.
"""

from __future__ import annotations

import warnings

import numpy as np

from ferbench.errors import DataError


def assign(y: np.ndarray, subjects: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The fold (1..k) of each sample; the samples of one subject share a fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    people = len(np.unique(subjects))
    if people < k:
        raise DataError(f"dataset.folds: {people} subject(s) cannot fill {k} subject-independent folds; use k <= {people}")
    fold = np.zeros(len(y), np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "least populated class has fewer members than n_splits": expected on CK+
        parts = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, subjects)
        for f, (_, test) in enumerate(parts, start=1):
            fold[test] = f
    return fold


def split(
    index: dict[str, tuple[np.ndarray, str]], y: np.ndarray, subjects: np.ndarray, k: int, fold: int, seed: int
) -> dict[str, tuple[np.ndarray, str]]:
    """Train, validation and test of run ``fold`` (1-based) out of the pooled splits."""
    pool = np.unique(np.concatenate([idx for idx, _ in index.values()]))
    of = assign(y[pool], subjects[pool], k, seed)
    val = fold % k + 1
    return {
        "train": (pool[(of != fold) & (of != val)], f"subjects[{k} folds, all but {fold} and {val}]"),
        "validation": (pool[of == val], f"subjects[fold {val} of {k}]"),
        "test": (pool[of == fold], f"subjects[fold {fold} of {k}]"),
    }


def summary(
    index: dict[str, tuple[np.ndarray, str]], y: np.ndarray, subjects: np.ndarray, k: int, seed: int, classes: tuple[str, ...]
) -> list[dict[str, object]]:
    """Every fold's size, class counts and subject ids (for ``data describe``)."""
    pool = np.unique(np.concatenate([idx for idx, _ in index.values()]))
    of = assign(y[pool], subjects[pool], k, seed)
    out: list[dict[str, object]] = []
    for f in range(1, k + 1):
        members = pool[of == f]
        counts = np.bincount(y[members], minlength=len(classes))
        out.append({
            "fold": f, "size": len(members), "counts": {c: int(n) for c, n in zip(classes, counts, strict=True)},
            "subjects": sorted(set(subjects[members].tolist())),
        })
    return out
