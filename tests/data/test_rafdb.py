"""RAF-DB basic on files written exactly as released: label order mapped by name,
aligned faces, attributes, the class-folder copy, and the partial-copy warning."""

from __future__ import annotations

import json
import shutil

import numpy as np
from release_writers import LEVEL, RAF, level_class, write_image, write_rafdb

from ferbench.cli.main import main
from ferbench.spec.types import DerivedSplit

PER_CLASS = {"surprise": (6, 2), "fear": (3, 1), "disgust": (4, 1), "happy": (9, 3), "sad": (5, 2), "angry": (4, 1), "neutral": (7, 2)}


def spec(tmp_path, path, extra=""):
    p = tmp_path / "spec.yaml"
    p.write_text(
        f"ferbench: 1\nname: raf\nseed: 3\ndataset:\n  kind: rafdb\n  path: {path}\n  image_size: 32\n{extra}"
        "search: {trials: 1, space: {learning_rate: {float: [1.0e-3, 1.0e-2], log: true}}}\n"
    )
    return str(p)


def describe_json(capsys, spec_path, *sets):
    args = ["data", "describe", spec_path, "--json"]
    for s in sets:
        args += ["--set", s]
    rc = main(args)
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out)


def test_rafdb_basic_counts_order_by_name_and_attributes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FERBENCH_CACHE", str(tmp_path / "cache"))
    written = write_rafdb(tmp_path / "RAF-DB", PER_CLASS)
    report = describe_json(capsys, spec(tmp_path, tmp_path / "RAF-DB"))
    assert report["source"].startswith("RAF-DB basic (list_patition_label.txt + aligned/)")
    splits = report["splits"]
    assert splits["test"]["name"] == "test"
    assert splits["test"]["counts"] == {c: written["test"][c] for c in report["classes"]}
    for c in report["classes"]:  # validation is carved out of train (the default): together they are train
        assert splits["train"]["counts"][c] + splits["validation"]["counts"][c] == written["train"][c]
    # Attributes travel with each face: gender of the n-th test face is n % 2 (0 male, 1 female).
    genders = splits["test"]["attributes"]["gender"]
    assert genders == {"female": 6, "male": 6}
    assert set(splits["train"]["attributes"]["age"]) | set(splits["validation"]["attributes"]["age"]) == {"0-3", "4-19", "20-39", "40-69", "70+"}
    assert any("RAF-DB basic: found 38 train / 12 test" in w and "12,271 train / 3,068 test" in w for w in report["warnings"])
    # The second load reads the cache: the same counts and attributes.
    assert describe_json(capsys, spec(tmp_path, tmp_path / "RAF-DB")) == report


def test_rafdb_attribute_files_are_read_in_the_released_format(tmp_path, capsys, monkeypatch):
    """Five tab-separated landmark lines, then the gender, race and age codes; a file in another shape is unknown, not misread."""
    monkeypatch.setenv("FERBENCH_CACHE", str(tmp_path / "cache"))
    write_rafdb(tmp_path / "RAF-DB", PER_CLASS)
    manual = tmp_path / "RAF-DB" / "basic" / "Annotation" / "manual"
    # test_0001: as released (the two eye centres, nose tip and mouth corners in the original's pixels): female, Asian, 70+.
    (manual / "test_0001_manu_attri.txt").write_text("89.57\t124.28\n152.02\t121.63\n122.39\t161.84\n94.95\t194.85\n148.13\t192.44\n1\n2\n4\n")
    (manual / "test_0002_manu_attri.txt").write_text("1\n2\n0\n")  # attributes without the landmark lines
    (manual / "test_0003_manu_attri.txt").write_text("89.5 124.2 152.0\n" * 5 + "0\n0\n0\n")  # landmarks of three numbers
    (manual / "test_0004_manu_attri.txt").unlink()
    report = describe_json(capsys, spec(tmp_path, tmp_path / "RAF-DB"))
    attrs = report["splits"]["test"]["attributes"]
    # test_0005..0012 as written (n % 2, n % 3, n % 5), test_0001 as above, three unknown.
    rest = range(5, 13)
    assert attrs["gender"] == {"female": 1 + sum(n % 2 == 1 for n in rest), "male": sum(n % 2 == 0 for n in rest), "unknown": 3}
    assert attrs["race"] == {"asian": 1 + sum(n % 3 == 2 for n in rest), "caucasian": sum(n % 3 == 0 for n in rest),
                             "african-american": sum(n % 3 == 1 for n in rest), "unknown": 3}
    ages = ("0-3", "4-19", "20-39", "40-69", "70+")
    assert attrs["age"] == {**{a: sum(n % 5 == i for n in rest) + (a == "70+") for i, a in enumerate(ages) if sum(n % 5 == i for n in rest) + (a == "70+")},
                            "unknown": 3}
    assert any(w.startswith("3 face(s) without a readable Annotation/manual/*_manu_attri.txt") for w in report["warnings"])
    # An edited attribute file is read again (the data cache watches the annotation files): test_0001 becomes male.
    (manual / "test_0001_manu_attri.txt").write_text("89.57\t124.28\n152.02\t121.63\n122.39\t161.84\n94.95\t194.85\n148.13\t192.44\n0\n2\n4\n")
    again = describe_json(capsys, spec(tmp_path, tmp_path / "RAF-DB"))["splits"]["test"]["attributes"]["gender"]
    assert again == {**attrs["gender"], "female": attrs["gender"]["female"] - 1, "male": attrs["gender"]["male"] + 1}
    # A copy without Annotation/manual/ has no attributes to report, and no warning about them.
    shutil.rmtree(manual)
    bare = describe_json(capsys, spec(tmp_path, tmp_path / "RAF-DB"))
    assert "attributes" not in bare["splits"]["test"] and not any("manu_attri" in w for w in bare["warnings"])


def test_rafdb_labels_are_mapped_by_name_not_position(tmp_path, make_spec):
    from ferbench.data import load_dataset

    write_rafdb(tmp_path / "raf", PER_CLASS)
    data = load_dataset(make_spec(kind="rafdb", path=tmp_path / "raf", splits=("train", DerivedSplit("train", 0.3), "test"), image_size=32), progress=False)
    test = data.splits["test"]
    # RAF-DB label 1 is surprise, FER2013's class 1 is disgust: each face's grey level names its true class.
    assert [level_class(x) for x in test.x] == [data.classes[y] for y in test.y]
    assert test.counts(7).tolist() == [PER_CLASS[c][1] for c in data.classes]


def test_rafdb_class_folder_copy_digits_count_from_one(tmp_path, make_spec):
    from ferbench.data import load_dataset

    for split, n in (("train", 2), ("test", 1)):
        for digit, cls in enumerate(RAF, start=1):
            for i in range(n):
                write_image(tmp_path / "raf" / split / str(digit) / f"{split}_{digit}{i}.jpg", np.full((100, 100), LEVEL[cls], np.uint8))
    data = load_dataset(make_spec(kind="rafdb", path=tmp_path / "raf", splits=("train", DerivedSplit("train", 0.3), "test"), image_size=32), progress=False)
    assert data.source.startswith("RAF-DB class folders")
    test = data.splits["test"]
    assert sorted(level_class(x) for x in test.x) == sorted(RAF)
    assert [level_class(x) for x in test.x] == [data.classes[y] for y in test.y]
