"""dataset.labels_mode on a FER2013 CSV with planted FER+ votes: training faces get their
scheme's target (or are kept only by it), validation and test keep the majority faces."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import small_fer, write_fer_csv
from test_ferplus import votes_file

from ferbench.data import load_dataset

#        neu hap sur sad ang dis fea con unk NF
HAPPY = [0, 10, 0, 0, 0, 0, 0, 0, 0, 0]
SPLIT = [0, 5, 0, 5, 0, 0, 0, 0, 0, 0]  # no majority; crossentropy: half happy, half sad; multi_target too
LEAN = [0, 6, 0, 4, 0, 0, 0, 0, 0, 0]  # majority happy; target 0.6 / 0.4
SAD = [0, 0, 0, 10, 0, 0, 0, 0, 0, 0]


@pytest.fixture()
def fer(tmp_path):
    rows, _, _ = small_fer(np.random.default_rng(0), {"Training": 8, "PublicTest": 4, "PrivateTest": 4})
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    votes = [HAPPY] * 16
    votes[0], votes[1], votes[2] = SPLIT, LEAN, SAD  # Training rows
    votes[8], votes[12], votes[13] = SPLIT, SPLIT, SAD  # PublicTest row 8, PrivateTest rows 12, 13
    votes_file(tmp_path / "fer2013new.csv", [r[2] for r in rows], votes)
    return tmp_path


def load(fer, make_spec, mode):
    spec = make_spec(kind="fer2013", path=fer, labels="fer2013new.csv", classes=("happy", "sad"), labels_mode=mode,
                     splits=("Training", "PublicTest", "PrivateTest"))
    return load_dataset(spec, progress=False)


def test_majority_has_hard_labels_only(fer, make_spec):
    data = load(fer, make_spec, "majority")
    assert data.soft_train is None and len(data.splits["train"]) == 7  # the split face is left out


@pytest.mark.parametrize("mode", ["probability", "crossentropy", "multi_target"])
def test_schemes_train_on_targets_and_test_on_majority(fer, make_spec, mode):
    data = load(fer, make_spec, mode)
    soft = data.soft_train
    assert soft is not None and soft.shape == (8, 2) and np.allclose(soft.sum(axis=1), 1)
    # (6 and 4 votes are both >= 30% of 10, so multi_target keeps both, as the others do.)
    expected = {(0.5, 0.5): 1, (1.0, 0.0): 5, (0.0, 1.0): 1, (0.6, 0.4): 1}
    got: dict[tuple[float, float], int] = {}
    for row in np.round(soft.astype(np.float64), 3).tolist():
        got[tuple(row)] = got.get(tuple(row), 0) + 1
    assert got == expected
    # The hard label of each training face is its target's top class (sad only for the SAD face).
    assert data.splits["train"].counts(2).tolist() == [7, 1]  # ties go to the first FER+ column, as the reference's argmax
    assert len(data.splits["validation"]) == 3 and len(data.splits["test"]) == 3  # faces without a majority left out
    assert data.splits["test"].counts(2).tolist() == [2, 1]


def test_a_scheme_without_votes_is_refused_where_it_is_written(tmp_path):
    from ferbench.errors import SpecError
    from ferbench.spec import load_spec

    spec = tmp_path / "s.yaml"
    spec.write_text(f"ferbench: 1\nname: s\ndataset:\n  kind: fer2013\n  path: {tmp_path}\n  labels_mode: crossentropy\n")
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert "s.yaml:6:3: dataset.labels_mode: labels_mode applies to FER+ votes; set dataset.labels" in str(err.value)
