"""k-fold cross-validation of a dataset: stratified, seeded folds of train + validation; the test split untouched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from ferbench.data import load_dataset
from ferbench.data.cache import image_hashes
from ferbench.errors import DataError
from ferbench.spec.types import DatasetSpec, SyntheticSpec


def _hashes(x: np.ndarray) -> set[int]:
    return set(image_hashes(x).tolist())


def test_folds_partition_train_and_validation_stratified_and_leave_test_alone(make_spec: Callable[..., DatasetSpec]) -> None:
    base = make_spec(image_size=24, synthetic=SyntheticSpec(140, 35, 35, "balanced", 0.08))
    plain = load_dataset(base, seed=5)
    pool = _hashes(np.concatenate([plain.splits["train"].x, plain.splits["validation"].x]))
    k = 5
    folds = [load_dataset(replace(base, folds=k, fold=i), seed=5) for i in range(1, k + 1)]
    validations = [_hashes(f.splits["validation"].x) for f in folds]
    assert set().union(*validations) == pool  # every pooled image validates once ...
    assert sum(len(v) for v in validations) == len(pool)  # ... and only once
    for f, v in zip(folds, validations):
        assert _hashes(f.splits["train"].x) == pool - v  # the others train
        assert np.array_equal(f.splits["test"].x, plain.splits["test"].x)  # the test split is the spec's own
        counts = np.bincount(f.splits["validation"].y, minlength=7)
        assert counts.max() - counts.min() <= 1  # stratified: 175 pooled images of 7 balanced classes -> 5 per class per fold
    assert len({f.fingerprint for f in folds} | {plain.fingerprint}) == k + 1
    assert folds[1].splits["validation"].name == "train+validation[fold 2 of 5]"
    assert folds[1].splits["train"].name == "train+validation[5 folds, all but fold 2]"


def test_folds_are_seeded(make_spec: Callable[..., DatasetSpec]) -> None:
    spec = make_spec(image_size=24, folds=3, fold=2)
    a, b, c = (load_dataset(spec, seed=s).splits["validation"] for s in (1, 1, 2))
    assert np.array_equal(a.x, b.x) and not (a.x.shape == c.x.shape and np.array_equal(a.x, c.x))


def test_a_class_rarer_than_the_folds_is_a_data_error(make_spec: Callable[..., DatasetSpec]) -> None:
    spec = make_spec(image_size=24, classes=("happy", "sad"), synthetic=SyntheticSpec(12, 3, 6, (9.0, 1.0), 0.0), folds=5, fold=1)
    with pytest.raises(DataError, match="fewer than the 5 folds"):
        load_dataset(spec, seed=0)
