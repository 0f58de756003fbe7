"""Class-folder datasets: FER2013 folder copies, any image folder with a class map."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import class_tree, write_image

from ferbench.data import load_dataset
from ferbench.errors import DataError
from ferbench.spec.types import DerivedSplit

FER = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
VAL = DerivedSplit("train", 0.2)


def test_fer2013_folders_digits(tmp_path, make_spec):
    class_tree(tmp_path / "fer", {"train": {str(d): 5 for d in range(7)}, "test": {str(d): 2 for d in range(7)}}, np.random.default_rng(0))
    data = load_dataset(make_spec(kind="fer2013", path=tmp_path / "fer", splits=("train", VAL, "test")))
    assert data.source.startswith("FER2013 class folders")
    test = data.splits["test"]
    assert test.counts(7).tolist() == [2] * 7
    for k in range(7):  # FER2013's digit k is class k; folder k was drawn at level 20 + 30k
        assert np.median(test.x[test.y == k]) == 20 + 30 * k


def test_folder_with_class_map_and_flat_layout(tmp_path, make_spec):
    rng = np.random.default_rng(1)
    class_tree(tmp_path / "flat", {".": {"joy": 6, "grumpy": 6, "blank": 6}}, rng)
    spec = make_spec(kind="folder", path=tmp_path / "flat", classes=("happy", "angry", "neutral"),
                     class_map={"joy": "happy", "grumpy": "angry", "blank": "neutral"},
                     splits=("all", DerivedSplit("train", 0.5), DerivedSplit("train", 0.25)))
    data = load_dataset(spec, seed=2)
    assert data.source.startswith("image class folders")
    sizes = [len(data.splits[k]) for k in ("train", "validation", "test")]
    assert sum(sizes) == 18 and sizes[1] == 9
    with pytest.raises(DataError, match=r"label\(s\) 'grumpy' name no class .* dataset.class_map: \{grumpy: <class>\}"):
        load_dataset(make_spec(kind="folder", path=tmp_path / "flat", classes=("happy", "neutral"),
                               class_map={"joy": "happy", "blank": "neutral"}, splits=("all", VAL, VAL)))


def test_corrupt_image_empty_folder_and_junk(tmp_path, make_spec):
    rng = np.random.default_rng(2)
    root = tmp_path / "fer"
    class_tree(root, {"train": {c: 3 for c in FER}, "test": {c: 1 for c in FER}}, rng)
    (root / "train" / "sad" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (root / "train" / "notes.txt").write_text("not an image")  # stray file beside class folders: ignored
    (root / "train" / "happy" / "readme.txt").write_text("x")
    spec = make_spec(kind="fer2013", path=root, splits=("train", VAL, "test"))
    with pytest.raises(DataError, match=r"train/sad/1.png: corrupt or unsupported image"):
        load_dataset(spec)
    data = load_dataset(make_spec(kind="fer2013", path=root, splits=("train", VAL, "test"), on_bad_sample="skip"))
    assert data.skipped == 1
    assert any("ignored 1 non-image file" in w for w in data.warnings)
    (root / "test" / "disgust" / "0.png").unlink()
    with pytest.raises(DataError, match=r"empty class folder\(s\) test/disgust"):
        load_dataset(spec)
    data = load_dataset(make_spec(kind="fer2013", path=root, splits=("train", VAL, "test"), on_bad_sample="skip"))
    assert any("test (test) has no samples of disgust" in w for w in data.warnings)


def test_missing_folders_and_layouts(tmp_path, make_spec):
    with pytest.raises(DataError, match="not found"):
        load_dataset(make_spec(kind="folder", path=tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no folders"):
        load_dataset(make_spec(kind="folder", path=tmp_path / "empty"))
    with pytest.raises(DataError, match="dataset.layout: csv is not a layout of folder"):
        load_dataset(make_spec(kind="folder", path=tmp_path / "empty", layout="csv"))
    write_image(tmp_path / "one" / "train" / "happy" / "a.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(DataError, match=r"no samples of class\(es\) angry, disgust"):
        load_dataset(make_spec(kind="folder", path=tmp_path / "one", splits=("train", VAL, VAL)))


def test_cache_is_reused_and_invalidated(tmp_path, make_spec, monkeypatch):
    root = tmp_path / "fer"
    class_tree(root, {"train": {c: 4 for c in FER}, "test": {c: 1 for c in FER}}, np.random.default_rng(3))
    spec = make_spec(kind="fer2013", path=root, splits=("train", VAL, "test"))
    first = load_dataset(spec)
    import ferbench.data.folders as folders

    def no_decoding(*a, **k):
        raise AssertionError("decoded again although cached")

    monkeypatch.setattr(folders, "read_folders", no_decoding)
    again = load_dataset(spec)
    assert again.fingerprint == first.fingerprint
    monkeypatch.undo()
    # Replacing a file changes the stat key: decoded again, new fingerprint.
    write_image(root / "test" / "fear" / "0.png", np.full((48, 48), 7, np.uint8))
    changed = load_dataset(spec)
    assert changed.fingerprint != first.fingerprint
    entries = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert entries[0] == "index" and all(e.startswith("raw-") for e in entries[1:]) and len(entries) == 3
