"""Subject-independent folds (``dataset.folds: {k, by: subject}``) on a JAFFE-layout
dataset: no subject in two folds, every labelled image in exactly one test fold,
``data describe`` lists the folds, and datasets without subjects are refused."""

from __future__ import annotations

import numpy as np
import pytest
from release_writers import JAFFE, LEVEL, level_class, write_image
from test_expw_ckplus_jaffe_kdef import spec_file
from test_rafdb import describe_json

from ferbench.cli.main import main
from ferbench.data import load_dataset
from ferbench.spec.types import DerivedSplit

PEOPLE = ("KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM")


@pytest.fixture()
def jaffe(tmp_path):
    for subject in PEOPLE:
        for k, (cls, code) in enumerate(JAFFE.items()):
            write_image(tmp_path / "jaffe" / f"{subject}.{code}1.{40 + k}.tiff", np.full((40, 40), LEVEL[cls], np.uint8))
    return tmp_path / "jaffe"


def test_every_image_in_exactly_one_test_fold_and_no_subject_in_two(jaffe, make_spec):
    k = 5
    tested: list[tuple[str, str]] = []
    fold_of: dict[str, int] = {}
    for fold in range(1, k + 1):
        data = load_dataset(make_spec(kind="jaffe", path=jaffe, image_size=32, folds=k, fold=fold, folds_by="subject",
                                      splits=("all", DerivedSplit("train", 0.1), DerivedSplit("train", 0.2))), seed=4, progress=False)
        people = {s: set(data.subjects[s].tolist()) for s in ("train", "validation", "test")}
        assert not people["train"] & people["test"] and not people["train"] & people["validation"] and not people["validation"] & people["test"]
        assert sum(len(data.splits[s]) for s in people) == 70  # nothing lost, nothing twice
        test = data.splits["test"]
        for subject, x, y in zip(data.subjects["test"].tolist(), test.x, test.y, strict=True):
            assert level_class(x) == data.classes[y]
            tested.append((subject, data.classes[y]))
            assert fold_of.setdefault(subject, fold) == fold  # a subject's images are tested in one fold only
    assert sorted(tested) == sorted((p, c) for p in PEOPLE for c in JAFFE)  # each image tested exactly once
    assert len(set(fold_of.values())) == k


def test_describe_lists_every_fold_and_by_subject_is_refused_without_subjects(jaffe, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FERBENCH_CACHE", str(tmp_path / "cache"))
    report = describe_json(capsys, spec_file(tmp_path, "jaffe", jaffe, "  folds: {k: 5, by: subject}\n"))
    folds = report["folds"]
    assert [f["fold"] for f in folds] == [1, 2, 3, 4, 5] and sum(f["size"] for f in folds) == 70
    assert sorted(s for f in folds for s in f["subjects"]) == sorted(PEOPLE)  # each subject in one fold
    for f in folds:
        assert f["size"] == 7 * len(f["subjects"]) == sum(f["counts"].values())
    spec = spec_file(tmp_path, "rafdb", tmp_path / "nowhere", "  folds: {k: 10, by: subject}\n")
    assert main(["validate", spec]) == 2
    err = capsys.readouterr().err
    assert "folds.by" in err and "rafdb names no subject per image" in err and "ckplus, jaffe, kdef" in err


def test_a_set_without_splits_is_scored_whole_as_an_extra_test_set(jaffe, make_spec):
    from ferbench.data.cross import load_cross_set
    from ferbench.spec.types import CrossSetSpec

    ds = make_spec(kind="jaffe", path=jaffe, image_size=32, splits=("all", DerivedSplit("train", 0.1), DerivedSplit("train", 0.2)))
    whole = load_cross_set(CrossSetSpec("jaffe", ds, "all"), tuple(ds.classes), np.zeros((0, 32, 32, 1), np.uint8))
    assert whole.info["size"] == 70 and len(whole.y) == 70  # every image, none twice
    assert sorted(np.bincount(whole.y).tolist()) == [10] * 7
    assert [level_class(x) for x in whole.x] == [ds.classes[y] for y in whole.y]
    assert load_cross_set(CrossSetSpec("jaffe", ds, "test"), tuple(ds.classes), whole.x[:0]).info["size"] == 14
