"""Every loaded image has a stable name (FER2013 CSV: Usage/row; folders: the path below the
dataset folder; RAF-DB: its list name; synthetic: split/index) that survives the cache, and an
extra test set (``evaluate.on``) can be narrowed to a list file of names."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import class_tree, small_fer, write_fer_csv
from release_writers import write_rafdb

from ferbench.data import load_dataset
from ferbench.data.cross import load_cross_set
from ferbench.errors import DataError
from ferbench.spec.types import CrossSetSpec, DerivedSplit


def _cache_entry(cache_dir):
    (entry,) = [p for p in cache_dir.iterdir() if p.name.startswith("raw-")]
    return entry


def _forget_names(cache_dir) -> None:
    """Make the cache entry look like one written before names were kept (no ``names`` array)."""
    arrays = _cache_entry(cache_dir) / "arrays.npz"
    with np.load(arrays) as npz:
        kept = {k: npz[k] for k in npz.files if k != "names"}
    np.savez(arrays, **kept)


def test_fer2013_csv_names_are_usage_and_data_row_through_the_cache(tmp_path, make_spec, cache_dir):
    rows, imgs, _ = small_fer(np.random.default_rng(0), {"Training": 7, "PublicTest": 3, "PrivateTest": 4})
    rows.insert(2, ("9", rows[0][1], "Training"))  # a bad row (label 9) skipped: the rows after it keep their number
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    spec = make_spec(kind="fer2013", path=tmp_path / "fer2013.csv", on_bad_sample="skip", splits=("Training", "PublicTest", "PrivateTest"))
    first = load_dataset(spec, progress=False)
    assert first.splits["test"].images.tolist() == [f"PrivateTest/{r}" for r in range(11, 15)]
    assert first.splits["train"].images.tolist() == [f"Training/{r}" for r in (0, 1, 3, 4, 5, 6, 7)]
    # The image named PrivateTest/13 is the CSV's data row 13 (the 13th image written, after the bad row).
    test = first.splits["test"]
    assert np.array_equal(test.x[list(test.images).index("PrivateTest/13"), :, :, 0], imgs[12])
    cached = load_dataset(spec, progress=False)
    assert cached.splits["test"].images.tolist() == test.images.tolist()
    _forget_names(cache_dir)  # an older cache entry: the names are rebuilt from the rows it keeps
    assert load_dataset(spec, progress=False).splits["test"].images.tolist() == test.images.tolist()
    assert cached.fingerprint == first.fingerprint


def test_folder_names_are_paths_and_an_old_cache_entry_is_replaced(tmp_path, make_spec, cache_dir):
    class_tree(tmp_path / "d", {"train": {"angry": 3, "happy": 3}, "test": {"angry": 2, "happy": 2}}, np.random.default_rng(0))
    spec = make_spec(kind="folder", path=tmp_path / "d", classes=("angry", "happy"), splits=("train", DerivedSplit("train", 0.34), "test"))
    first = load_dataset(spec, progress=False)
    assert first.splits["test"].images.tolist() == ["test/angry/0.png", "test/angry/1.png", "test/happy/0.png", "test/happy/1.png"]
    levels = first.splits["test"].x[:, 1, 1, 0].tolist()
    assert levels == [20, 20, 50, 50]  # angry is the first class folder, happy the second (class_tree's levels)
    both = sorted(first.splits["train"].images.tolist() + first.splits["validation"].images.tolist())
    assert both == sorted(f"train/{c}/{i}.png" for c in ("angry", "happy") for i in range(3))
    _forget_names(cache_dir)
    again = load_dataset(spec, progress=False)
    assert again.splits["test"].images.tolist() == first.splits["test"].images.tolist()
    assert again.fingerprint == first.fingerprint
    with np.load(_cache_entry(cache_dir) / "arrays.npz") as npz:  # decoded again and the entry replaced, under the same key
        assert "names" in npz.files and len(npz["names"]) == 10


def test_rafdb_names_are_the_label_lists_and_synthetic_split_index(tmp_path, make_spec):
    write_rafdb(tmp_path / "raf", {"happy": (4, 2), "sad": (4, 2), "angry": (4, 1), "neutral": (3, 1), "surprise": (3, 1), "fear": (3, 1), "disgust": (3, 1)})
    raf = load_dataset(make_spec(kind="rafdb", path=tmp_path / "raf", image_size=32, splits=("train", DerivedSplit("train", 0.2), "test")),
                       progress=False)
    assert raf.splits["test"].images.tolist() == [f"test_{i:04d}.jpg" for i in range(1, 10)]
    syn = load_dataset(make_spec(), progress=False)
    assert syn.splits["test"].images.tolist() == [f"test/{i}" for i in range(35)]


def _cross(tmp_path, make_spec, lines: str, **kw):
    class_tree(tmp_path / "d", {"train": {"angry": 2, "happy": 2}, "test": {"angry": 3, "happy": 3}}, np.random.default_rng(0))
    (tmp_path / "list.txt").write_text(lines)
    ds = make_spec(kind="folder", path=tmp_path / "d", classes=("angry", "happy"), splits=("train", DerivedSplit("train", 0.5), "test"))
    spec = CrossSetSpec(name="occluded", dataset=ds, split="test", images=str(tmp_path / "list.txt"), **kw)
    return load_cross_set(spec, ("angry", "happy"), np.zeros((0, 48, 48, 1), np.uint8))


def test_evaluate_on_scores_only_the_listed_images(tmp_path, make_spec):
    # Whole names, a comment, a blank line and a label column after the name (as RAF-DB's lists have).
    s = _cross(tmp_path, make_spec, "# occluded faces\ntest/happy/2.png 4\n\ntest/angry/0.png\n")
    assert s.x.shape[0] == 2 and s.y.tolist() == [0, 1]  # in the split's order, not the list's
    assert s.x[:, 1, 1, 0].tolist() == [20, 50]
    assert s.info["size"] == 2 and s.info["list"]["listed"] == 2 and len(s.info["list"]["sha256"]) == 64
    assert s.info["split"] == "test[list.txt: 2 images]"


def test_unknown_names_are_an_error_naming_the_first_few(tmp_path, make_spec):
    names = "".join(f"nope_{i}.png\n" for i in range(7))
    with pytest.raises(DataError) as err:
        _cross(tmp_path, make_spec, "test/angry/1.png\n" + names)
    msg = str(err.value)
    assert "evaluate.on occluded" in msg and "list.txt" in msg and "7 of 8 listed image(s) name no single image of the split" in msg
    assert "'nope_0.png', 'nope_1.png', 'nope_2.png', 'nope_3.png', 'nope_4.png' ... and 2 more" in msg
    assert "'test/angry/0.png'" in msg  # what a name looks like


def test_a_file_name_two_images_share_must_be_written_whole(tmp_path, make_spec):
    with pytest.raises(DataError, match=r"\('1.png' match several images: write the whole name\)"):
        _cross(tmp_path, make_spec, "1.png\n")
