"""The real FER2013 files (skipped where the data is absent): official counts,
duplicates, blank images, the Kaggle folder sample and FER+ majority labels."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ferbench.data import load_dataset
from ferbench.spec.types import DerivedSplit

OFFICIAL = {
    "Training": [3995, 436, 4097, 7215, 4830, 3171, 4965],
    "PublicTest": [467, 56, 496, 895, 653, 415, 607],
    "PrivateTest": [491, 55, 528, 879, 594, 416, 626],
}


@pytest.fixture()
def fer(make_spec, fer2013_dir, fer_cache):
    def make(**kw):
        kw.setdefault("splits", ("Training", "PublicTest", "PrivateTest"))
        return make_spec(kind="fer2013", path=fer2013_dir, cache=str(fer_cache), **kw)

    return make


def test_official_counts_duplicates_and_blanks(fer):
    data = load_dataset(fer())
    assert data.source == "FER2013 Kaggle CSV (fer2013.csv.gz)"
    for key, name in zip(("train", "validation", "test"), OFFICIAL):
        split = data.splits[key]
        assert split.name == name
        assert split.counts(7).tolist() == OFFICIAL[name]
        assert split.x.shape[1:] == (48, 48, 1) and split.x.dtype == np.uint8 and split.y.dtype == np.int64
    assert data.duplicates == {"train&validation": 280, "train&test": 288, "validation&test": 44}
    assert data.blank == {"train": 11, "validation": 1, "test": 0}
    assert any("280 validation image(s) also occur in train" in w for w in data.warnings)
    assert data.skipped == 0


def test_cached_load_is_fast_and_identical(fer):
    first = load_dataset(fer())
    t = time.perf_counter()
    again = load_dataset(fer())
    assert time.perf_counter() - t < 1.5  # 0.1-0.3 s on an idle 2-core machine
    assert again.fingerprint == first.fingerprint
    assert np.array_equal(again.splits["test"].x, first.splits["test"].x)


def test_thesis_test_split_and_derived_validation(fer):
    data = load_dataset(fer(splits=("Training", DerivedSplit("train", 0.1), "test")), seed=3)
    assert len(data.splits["test"]) == 7178
    assert data.splits["test"].counts(7).tolist() == (np.add(OFFICIAL["PublicTest"], OFFICIAL["PrivateTest"])).tolist()
    assert len(data.splits["train"]) + len(data.splits["validation"]) == 28709
    assert data.splits["validation"].name == "Training[derived 0.1]"


def test_folder_sample_labels(make_spec, fer2013_dir, tmp_path):
    spec = make_spec(kind="fer2013", path=fer2013_dir / "folder-sample", splits=("train", DerivedSplit("train", 0.25), "test"))
    data = load_dataset(spec, seed=0)
    assert data.source.startswith("FER2013 class folders")
    train = np.add(data.splits["train"].counts(7), data.splits["validation"].counts(7))
    assert train.tolist() == [60] * 7
    assert data.splits["test"].counts(7).tolist() == [20] * 7
    # Labels follow the folder names: the first test image of each class folder.
    from PIL import Image

    for i, cls in enumerate(data.classes):
        first = sorted((fer2013_dir / "folder-sample" / "test" / cls).iterdir())[0]
        img = np.asarray(Image.open(first).convert("L"))
        hits = np.flatnonzero((data.splits["test"].x[..., 0] == img).all(axis=(1, 2)))
        assert len(hits) and data.splits["test"].y[hits[0]] == i


def test_ferplus_majority_relabelling(fer, fer2013_dir):
    eight = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt")
    data = load_dataset(fer(labels=str(fer2013_dir / "fer2013new.csv"), classes=eight))
    assert "FER+ majority vote" in data.source
    train = dict(zip(eight, data.splits["train"].counts(8).tolist()))
    # Majority mode: neutral and happiness dominate; contempt exists only in FER+.
    assert train["neutral"] > train["happy"] > train["sad"] and train["contempt"] > 0
    assert data.excluded["FER+ dropped the image"] == 173  # rows with an empty Image name
    assert data.excluded["no FER+ majority"] > 0 and "FER+ majority unknown" in data.excluded
    total = sum(len(s) for s in data.splits.values()) + sum(data.excluded.values())
    assert total == 35887
    seven = load_dataset(fer(labels="fer2013new.csv"))  # relative to the dataset folder
    assert "contempt" in " ".join(seven.excluded) and len(seven.splits["train"]) == len(data.splits["train"]) - train["contempt"]
