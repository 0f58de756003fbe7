"""Derived splits, named joins, class weights."""

from __future__ import annotations

import numpy as np
import pytest

from ferbench.data import class_weights, load_dataset
from ferbench.data.splits import resolve
from ferbench.errors import DataError
from ferbench.spec.types import DerivedSplit, LossSpec, Splits


def test_derived_split_stratified_seeded_and_removed():
    groups = np.repeat([0, 1], [1000, 200])
    y = np.tile(np.repeat(np.arange(4), [10, 20, 30, 40]), 12)
    splits = Splits("train", DerivedSplit("train", 0.1), "test")
    a = resolve(splits, groups, ("train", "test"), y, seed=5, source="s")
    b = resolve(splits, groups, ("train", "test"), y, seed=5, source="s")
    c = resolve(splits, groups, ("train", "test"), y, seed=6, source="s")
    tr, va = a["train"][0], a["validation"][0]
    assert np.array_equal(va, b["validation"][0]) and not np.array_equal(va, c["validation"][0])
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 1000
    assert np.bincount(y[va]).tolist() == [10, 20, 30, 40]  # exactly 10% of each class
    assert a["validation"][1] == "train[derived 0.1]" and a["train"][1] == "train[rest 0.9]"
    un = resolve(Splits("train", DerivedSplit("train", 0.1, stratified=False), "test"), groups, ("train", "test"), y, 5, "s")
    assert len(un["validation"][0]) == 100


def test_named_joins_and_aliases():
    groups = np.repeat([0, 1, 2], 10)
    y = np.zeros(30, int)
    names = ("Training", "PublicTest", "PrivateTest")
    out = resolve(Splits("train", DerivedSplit("train", 0.5), "publictest+PrivateTest"), groups, names, y, 0, "s")
    assert len(out["train"][0]) == 5 and len(out["test"][0]) == 20
    with pytest.raises(DataError, match="share samples"):
        resolve(Splits("train", "PublicTest", "test"), groups, names, y, 0, "s")
    out = resolve(Splits("Training", DerivedSplit("train", 0.2), "test"), groups, names, y, 0, "s")
    assert len(out["test"][0]) == 20  # FER2013's test = PublicTest + PrivateTest
    with pytest.raises(DataError, match="itself derived"):
        resolve(Splits("Training", DerivedSplit("test", 0.2), DerivedSplit("train", 0.1)), groups, names, y, 0, "s")


def test_fingerprint_depends_on_seed_only_with_derived_splits(make_spec):
    named = make_spec()
    assert load_dataset(named, seed=1).fingerprint != load_dataset(named, seed=2).fingerprint  # synthetic: seed draws the data
    a = load_dataset(make_spec(splits=("train", DerivedSplit("train", 0.2), "test")), seed=1)
    b = load_dataset(make_spec(splits=("train", "validation", "test")), seed=1)
    assert a.fingerprint != b.fingerprint


def test_class_weights():
    y = np.repeat(np.arange(3), [10, 30, 60])
    assert class_weights(y, 3, LossSpec("none", 0.999, None)) is None
    inv = class_weights(y, 3, LossSpec("inverse_frequency", 0.999, None))
    assert np.allclose(inv, [100 / 30, 100 / 90, 100 / 180])
    from sklearn.utils.class_weight import compute_class_weight

    assert np.allclose(inv, compute_class_weight("balanced", classes=np.arange(3), y=y))
    eff = class_weights(y, 3, LossSpec("effective_number", 0.9, None))
    raw = (1 - 0.9) / (1 - 0.9 ** np.array([10, 30, 60]))
    assert np.allclose(eff, raw / raw.sum() * 3) and np.isclose(eff.sum(), 3)
    assert eff[0] > eff[1] > eff[2]
    with pytest.raises(DataError, match="no training samples"):
        class_weights(np.array([0, 0, 2]), 3, LossSpec("inverse_frequency", 0.999, None))
