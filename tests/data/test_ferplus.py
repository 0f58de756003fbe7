"""FER+ majority vote, as the FERPlus reader's majority mode defines it."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import small_fer, write_fer_csv

from ferbench.data import load_dataset
from ferbench.data.classes import FERPLUS_COLUMNS
from ferbench.data.ferplus import majority
from ferbench.errors import DataError

#        neu hap sur sad ang dis fea con unk NF
CASES = [
    ([6, 0, 1, 1, 0, 0, 0, 0, 2, 0], "neutral"),  # single votes removed: 6 of 8
    ([4, 0, 0, 1, 3, 2, 0, 0, 0, 0], None),  # 4 of 9 after outlier removal: no majority
    ([0, 10, 0, 0, 0, 0, 0, 0, 0, 0], "happiness"),
    ([5, 5, 0, 0, 0, 0, 0, 0, 0, 0], None),  # a tie is not a strict majority: dropped
    ([0, 0, 0, 0, 0, 0, 0, 3, 0, 0], "contempt"),
    ([2, 0, 0, 0, 0, 0, 0, 0, 7, 1], "unknown"),  # the reader drops unknown...
    ([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], "NF"),  # ...and not-a-face
    ([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], None),  # all single votes: nothing left
]


@pytest.mark.parametrize("votes, expected", CASES)
def test_majority(votes, expected):
    got = int(majority(np.array([votes], float))[0])
    assert (FERPLUS_COLUMNS[got] if got >= 0 else None) == expected


def votes_file(path, usages, rows, names=None):
    lines = ["Usage,Image name," + ",".join(FERPLUS_COLUMNS)]
    for i, (u, v) in enumerate(zip(usages, rows)):
        name = "" if names is not None and not names[i] else f"fer{i:07d}.png"
        lines.append(f"{u},{name}," + ",".join(map(str, v)))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_relabel_aligned_by_row(tmp_path, make_spec):
    rows, imgs, _ = small_fer(np.random.default_rng(0), {"Training": 8, "PublicTest": 4, "PrivateTest": 4})
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    usages = [r[2] for r in rows]
    votes = [[0, 10, 0, 0, 0, 0, 0, 0, 0, 0]] * len(rows)  # all happiness ...
    votes[0] = [0, 0, 0, 9, 0, 0, 0, 0, 1, 0]  # ... but row 0 sad
    votes[1] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]  # row 1 not a face
    keep = [True] * len(rows)
    keep[2] = False  # FER+ dropped row 2 (empty Image name)
    votes_file(tmp_path / "fer2013new.csv", usages, votes, keep)
    eight = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt")
    spec = make_spec(kind="fer2013", path=tmp_path, labels="fer2013new.csv", classes=eight,
                     splits=("Training", "PublicTest", "PrivateTest"))
    with pytest.raises(DataError, match="no samples of class"):
        load_dataset(spec)  # only happy and sad remain
    spec = make_spec(kind="fer2013", path=tmp_path, labels="fer2013new.csv", classes=("happy", "sad"),
                     splits=("Training", "PublicTest", "PrivateTest"))
    data = load_dataset(spec)
    train = data.splits["train"]
    assert train.counts(2).tolist() == [5, 1] and len(train) == 6
    assert np.array_equal(train.x[train.y == 1][0, ..., 0], imgs[0])  # the sad face is CSV row 0
    assert data.excluded["FER+ dropped the image"] == 1 and data.excluded["FER+ majority NF"] == 1


def test_misaligned_votes(tmp_path, make_spec):
    rows, _, _ = small_fer(np.random.default_rng(1), {"Training": 7, "PublicTest": 7, "PrivateTest": 7})
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    happy = [0, 10, 0, 0, 0, 0, 0, 0, 0, 0]
    spec = make_spec(kind="fer2013", path=tmp_path, labels=str(tmp_path / "new.csv"), classes=("happy", "sad"),
                     splits=("Training", "PublicTest", "PrivateTest"))
    votes_file(tmp_path / "new.csv", ["Training"] * 20, [happy] * 20)
    with pytest.raises(DataError, match="20 rows, but the FER2013 CSV has 21"):
        load_dataset(spec)
    votes_file(tmp_path / "new.csv", ["PublicTest"] * 21, [happy] * 21)
    with pytest.raises(DataError, match=r"new.csv:2: Usage 'PublicTest' differs .* not aligned"):
        load_dataset(spec)
    (tmp_path / "new.csv").write_text("Usage,Image name,neutral\nTraining,a.png,3\n")
    with pytest.raises(DataError, match=r"missing column\(s\) happiness"):
        load_dataset(spec)
