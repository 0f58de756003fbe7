"""Built-in synthetic faces: seeded, sized, imbalanced as asked, learnable but not trivial."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ferbench.data import load_dataset
from ferbench.data.synthetic import FER2013_COUNTS, class_counts
from ferbench.errors import DataError
from ferbench.spec.types import CLASS_VOCABULARY, SyntheticSpec


def test_seeded_and_sized(make_spec):
    spec = make_spec(image_size=32, color="rgb", classes=CLASS_VOCABULARY, synthetic=SyntheticSpec(80, 16, 16, "balanced", 0.05))
    a, b, c = (load_dataset(spec, seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.splits["train"].x, b.splits["train"].x) and a.fingerprint == b.fingerprint
    assert not np.array_equal(a.splits["train"].x, c.splits["train"].x)
    assert a.splits["train"].x.shape == (80, 32, 32, 3) and a.splits["train"].x.dtype == np.uint8
    assert a.splits["train"].counts(8).tolist() == [10] * 8
    assert [len(a.splits[k]) for k in ("validation", "test")] == [16, 16]
    assert not np.array_equal(a.splits["validation"].x, a.splits["test"].x)
    assert a.source.startswith("synthetic faces")


def test_imbalance():
    w = np.array([FER2013_COUNTS[c] for c in ("angry", "disgust", "happy")], float)
    counts = class_counts(1000, w)
    assert counts.sum() == 1000 and counts.argmax() == 2 and counts.min() >= 1
    assert np.allclose(counts / 1000, w / w.sum(), atol=0.01)
    assert class_counts(7, np.ones(7)).tolist() == [1] * 7


def test_explicit_weights_and_errors(make_spec):
    spec = make_spec(classes=("happy", "sad"), synthetic=SyntheticSpec(100, 10, 10, (3.0, 1.0), 0.0))
    assert load_dataset(spec).splits["train"].counts(2).tolist() == [75, 25]
    with pytest.raises(DataError, match="2 weight\\(s\\) for 3 classes"):
        load_dataset(make_spec(classes=("happy", "sad", "fear"), synthetic=SyntheticSpec(100, 10, 10, (3.0, 1.0), 0.0)))


def test_fast_and_learnable_but_not_trivial(make_spec):
    """A linear model on raw pixels: far above chance, far below perfect (a CNN does better; see docs/data.md)."""
    from sklearn.linear_model import RidgeClassifier

    spec = make_spec(image_size=32, synthetic=SyntheticSpec(3000, 7, 1000, "balanced", 0.08))
    t = time.perf_counter()
    data = load_dataset(spec, seed=0)
    assert time.perf_counter() - t < 10  # about 1 s of CPU for 4,000 faces
    tr, te = data.splits["train"], data.splits["test"]
    model = RidgeClassifier(alpha=100.0).fit(tr.x.reshape(len(tr), -1) / 255.0, tr.y)
    acc = model.score(te.x.reshape(len(te), -1) / 255.0, te.y)
    assert 0.35 < acc < 0.8, acc  # chance is 1/7; measured 0.58
