"""The FER2013 CSV parser: same pixels as a naive parse, every container, every bad row."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from data_helpers import pixels, small_fer, write_fer_csv

from ferbench.data import load_dataset
from ferbench.data.fer2013_csv import read_fer2013_csv
from ferbench.errors import DataError


@pytest.mark.parametrize("name", ["fer2013.csv", "fer2013.csv.gz", "fer2013.zip"])
def test_containers_parse_exactly(tmp_path, name):
    rng = np.random.default_rng(0)
    rows, imgs, labels = small_fer(rng)
    path = write_fer_csv(tmp_path / name, rows)
    raw, digest, bad = read_fer2013_csv(path)
    assert bad == [] and len(digest) == 64
    assert np.array_equal(raw.x[..., 0], imgs)
    assert raw.labels.tolist() == labels.tolist()
    assert raw.group_names == ("Training", "PublicTest", "PrivateTest")
    assert raw.rows.tolist() == list(range(len(rows)))


def test_many_chunks_match_naive_parse(tmp_path, monkeypatch):
    import ferbench.data.fer2013_csv as mod

    monkeypatch.setattr(mod, "CHUNK", 1 << 12)  # force hundreds of chunk boundaries
    rng = np.random.default_rng(1)
    rows, imgs, _ = small_fer(rng, {"Training": 60, "PublicTest": 10})
    raw, _, bad = read_fer2013_csv(write_fer_csv(tmp_path / "f.csv.gz", rows))
    assert bad == []
    naive = np.stack([np.array(p.split(), dtype=np.uint8) for _, p, _ in rows]).reshape(-1, 48, 48)
    assert np.array_equal(raw.x[..., 0], naive) and np.array_equal(naive, imgs)


def test_quotes_crlf_and_other_column_order(tmp_path):
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, 2304)
    text = 'emotion, Usage, pixels\r\n3,Training,"' + " ".join(map(str, img)) + '"\r\n'
    text += '5,PrivateTest,"' + " ".join(map(str, img[::-1])) + '"\r\n'
    (tmp_path / "icml_face_data.csv").write_text(text)
    raw, _, bad = read_fer2013_csv(tmp_path / "icml_face_data.csv")
    assert bad == [] and raw.labels.tolist() == [3, 5]
    assert np.array_equal(raw.x[1].ravel(), img[::-1])


def test_resize_and_rgb(tmp_path, make_spec):
    rows, imgs, _ = small_fer(np.random.default_rng(3))
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    data = load_dataset(make_spec(kind="fer2013", path=tmp_path, image_size=32, color="rgb",
                                  splits=("Training", "PublicTest", "PrivateTest")))
    x = data.splits["train"].x
    assert x.shape == (21, 32, 32, 3) and np.array_equal(x[..., 0], x[..., 1])


BAD_ROWS = {
    "short": ("0", pixels(np.random.default_rng(0), 2303), "Training", "pixels has 2303 values, expected 2304"),
    "letter": ("0", pixels(np.random.default_rng(0), 2303) + " x1", "Training", "non-numeric character 'x'"),
    "big": ("0", "256 " + pixels(np.random.default_rng(0), 2303), "Training", "outside 0..255"),
    "label": ("7", pixels(np.random.default_rng(0)), "Training", "emotion '7' is not a label 0..6"),
    "label_text": ("happy", pixels(np.random.default_rng(0)), "Training", "emotion 'happy' is not a label"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_rows_name_the_line(tmp_path, make_spec, case):
    rng = np.random.default_rng(4)
    rows, _, _ = small_fer(rng)
    *row, message = BAD_ROWS[case]
    rows.insert(5, tuple(row))  # data row 5 = line 7
    path = write_fer_csv(tmp_path / "fer2013.csv.gz", rows)
    spec = make_spec(kind="fer2013", path=path, splits=("Training", "PublicTest", "PrivateTest"))
    with pytest.raises(DataError) as err:
        load_dataset(spec)
    assert "fer2013.csv.gz:7: " in str(err.value) and message in str(err.value)
    assert "on_bad_sample: skip" in str(err.value)
    skipped = load_dataset(make_spec(kind="fer2013", path=path, on_bad_sample="skip", splits=("Training", "PublicTest", "PrivateTest")))
    assert skipped.skipped == 1 and len(skipped.splits["train"]) == 21
    assert any("skipped 1 bad sample" in w for w in skipped.warnings)


def test_wrong_field_count(tmp_path):
    rows, _, _ = small_fer(np.random.default_rng(5))
    path = write_fer_csv(tmp_path / "f.csv", rows)
    text = path.read_text().splitlines()
    text[3] += ",extra"
    path.write_text("\n".join(text) + "\n")
    _, _, bad = read_fer2013_csv(path)
    assert bad == [(4, "has 4 fields, expected 3")]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"emotion,image,Usage\n0,1 2,Training\n", "not the FER2013 CSV's"),
        (b"", "is empty"),
        (gzip.compress(b"emotion,pixels,Usage\n" + b"0,1 2 3," * 1000)[:-40], "corrupt or truncated"),
        (b"PK\x03\x04garbage", "corrupt or truncated"),
    ],
    ids=["columns", "empty", "truncated-gz", "corrupt-zip"],
)
def test_broken_files(tmp_path, make_spec, content, message):
    name = {"PK": "fer2013.zip", "\x1f\x8b": "fer2013.csv.gz"}.get(content[:2].decode("latin1"), "fer2013.csv")
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_dataset(make_spec(kind="fer2013", path=tmp_path / name, splits=("Training", "PublicTest", "PrivateTest")))


def test_missing_path_and_unknown_split(tmp_path, make_spec):
    with pytest.raises(DataError, match="not found; set dataset.path"):
        load_dataset(make_spec(kind="fer2013", path=tmp_path / "nope"))
    with pytest.raises(DataError, match="no fer2013 dataset found"):
        load_dataset(make_spec(kind="fer2013", path=tmp_path))
    rows, _, _ = small_fer(np.random.default_rng(6))
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    with pytest.raises(DataError, match=r"splits.validation: 'Validation' is not a split .* Training, PublicTest, PrivateTest"):
        load_dataset(make_spec(kind="fer2013", path=tmp_path, splits=("Training", "Validation", "PrivateTest")))
    with pytest.raises(DataError, match="share samples"):
        load_dataset(make_spec(kind="fer2013", path=tmp_path, splits=("Training", "PublicTest", "PublicTest+PrivateTest")))


def test_class_subset_and_absent_class(tmp_path, make_spec):
    rows, _, _ = small_fer(np.random.default_rng(7))
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    spec = make_spec(kind="fer2013", path=tmp_path, classes=("happy", "sad"), splits=("Training", "PublicTest", "PrivateTest"))
    data = load_dataset(spec)
    assert data.classes == ("happy", "sad") and data.splits["train"].counts(2).tolist() == [3, 3]
    assert data.excluded["0 (angry)"] == 5
    spec = make_spec(kind="fer2013", path=tmp_path, classes=("happy", "contempt"), splits=("Training", "PublicTest", "PrivateTest"))
    with pytest.raises(DataError, match="no samples of class\\(es\\) contempt"):
        load_dataset(spec)
