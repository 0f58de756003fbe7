"""ExpW, CK+, JAFFE and KDEF on files written exactly as released: several faces per
ExpW image cropped by their boxes, confidence filtering, CK+'s last-three-frames
protocol and a sequence without an emotion file, subjects from file names."""

from __future__ import annotations

import numpy as np
from release_writers import JAFFE, KDEF, LEVEL, level_class, write_ckplus, write_expw, write_image
from test_rafdb import describe_json

from ferbench.data import load_dataset
from ferbench.spec.types import CLASS_VOCABULARY, DerivedSplit

SEVEN = tuple(c for c in CLASS_VOCABULARY if c != "neutral")  # CK+ without the first frames has no neutral
ALL = ("all", DerivedSplit("train", 0.2), DerivedSplit("train", 0.3))


def spec_file(tmp_path, kind, path, extra=""):
    p = tmp_path / f"{kind}.yaml"
    p.write_text(
        f"ferbench: 1\nname: {kind}\nseed: 3\ndataset:\n  kind: {kind}\n  path: {path}\n  image_size: 32\n{extra}"
        "search: {trials: 1, space: {learning_rate: {float: [1.0e-3, 1.0e-2], log: true}}}\n"
    )
    return str(p)


def total_counts(report):
    out: dict[str, int] = {}
    for s in report["splits"].values():
        for c, n in s["counts"].items():
            out[c] = out.get(c, 0) + n
    return out


def test_expw_two_faces_per_image_cropped_and_confidence_filter(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FERBENCH_CACHE", str(tmp_path / "cache"))
    classes = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    images = [[(classes[i % 7], 0.9), (classes[(i + 3) % 7], 0.2 if i % 4 == 0 else 0.95)] for i in range(21)]
    images += [[("happy", 0.3), ("sad", 0.1)], [("angry", 0.45)], [("fear", 0.2), ("neutral", 0.4)]]  # no box reaches 0.5
    faces = write_expw(tmp_path / "ExpW", images)
    report = describe_json(capsys, spec_file(tmp_path, "expw", tmp_path / "ExpW", "  min_confidence: 0.5\n"))
    kept = [c for c, conf in faces if conf >= 0.5]
    assert total_counts(report) == {c: kept.count(c) for c in classes}
    # Faces below the threshold are counted as faces; images left with none, as images of their own.
    assert report["excluded"] == {"face box confidence below 0.5 (dataset.min_confidence)": len(faces) - len(kept),
                                  "images whose every face box is below 0.5 (dataset.min_confidence)": 3}
    assert report["source"].endswith("; 3 image(s) left out: no face box at min_confidence 0.5)")  # the run's data line
    assert any("ExpW: 3 of 24 images (12%) have no face box with confidence >= 0.5" in w for w in report["warnings"])
    assert any("ExpW: found 47 faces" in w for w in report["warnings"])
    # A threshold every image has a box above: no such images, no warning.
    low = describe_json(capsys, spec_file(tmp_path, "expw", tmp_path / "ExpW", "  min_confidence: 0.3\n"))
    assert "images whose every face box is below 0.3 (dataset.min_confidence)" not in low["excluded"]
    assert not any("have no face box" in w for w in low["warnings"]) and low["source"] == "ExpW (label.lst + image/origin/)"


def test_expw_faces_are_cropped_by_their_box(tmp_path, make_spec):
    write_expw(tmp_path / "ExpW", [[("happy", 0.9), ("angry", 0.9)], [("sad", 0.9), ("neutral", 0.9)]] * 4)
    data = load_dataset(make_spec(kind="expw", path=tmp_path / "ExpW", splits=ALL, image_size=32, classes=("angry", "happy", "sad", "neutral")),
                        progress=False)
    for s in data.splits.values():
        for x, y in zip(s.x, s.y, strict=True):
            assert level_class(x) == data.classes[y] and x.max() < LEVEL[data.classes[y]] + 20  # no white around


CK = [  # subject, sequence, label (None: no emotion file), frames
    ("S005", "001", "disgust", 11), ("S010", "002", "happy", 14), ("S010", "004", "contempt", 9),
    ("S011", "001", "surprise", 6), ("S011", "003", None, 8), ("S014", "002", "sad", 5),
    ("S022", "001", "angry", 7), ("S026", "003", "fear", 10),
]


def test_ckplus_last_three_frames_neutral_first_and_unlabelled_sequence(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FERBENCH_CACHE", str(tmp_path / "cache"))
    write_ckplus(tmp_path / "CK+", CK)
    extra = "  classes: [angry, contempt, disgust, fear, happy, sad, surprise, neutral]\n  ckplus: {neutral_first_frame: true}\n"
    report = describe_json(capsys, spec_file(tmp_path, "ckplus", tmp_path / "CK+", extra))
    labelled = [c for _, _, c, _ in CK if c is not None]
    expected = {c: 3 * labelled.count(c) for c in CLASS_VOCABULARY}
    expected["neutral"] = len(labelled)
    assert total_counts(report) == expected
    assert report["excluded"] == {"sequences without an emotion file": 1}
    assert any("CK+: found 7 labelled sequences, the official release has 327" in w for w in report["warnings"])
    subjects = set().union(*(s["subjects"] for s in report["splits"].values()))
    assert subjects == {s for s, _, c, _ in CK if c is not None}


def test_ckplus_peak_frames_carry_the_label(tmp_path, make_spec):
    write_ckplus(tmp_path / "ck", CK)
    data = load_dataset(make_spec(kind="ckplus", path=tmp_path / "ck", splits=ALL, classes=SEVEN, image_size=32), progress=False)
    assert sum(len(s) for s in data.splits.values()) == 21  # 7 labelled sequences x 3 peak frames, no neutral first frame
    for k, s in data.splits.items():
        assert [level_class(x) for x in s.x] == [data.classes[y] for y in s.y]
        assert len(data.subjects[k]) == len(s)
    assert set().union(*(set(v.tolist()) for v in data.subjects.values())) == {"S005", "S010", "S011", "S014", "S022", "S026"}


def test_jaffe_and_kdef_subjects_from_file_names(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FERBENCH_CACHE", str(tmp_path / "cache"))
    people = ("KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM")  # JAFFE's ten
    for subject in people:
        for k, (cls, code) in enumerate(JAFFE.items()):
            write_image(tmp_path / "jaffe" / f"{subject}.{code}{k % 3 + 1}.{40 + k}.tiff", np.full((64, 64), LEVEL[cls], np.uint8))
    (tmp_path / "jaffe" / "README").write_text("not an image")
    report = describe_json(capsys, spec_file(tmp_path, "jaffe", tmp_path / "jaffe"))
    assert total_counts(report) == dict.fromkeys(report["classes"], 10)
    assert set().union(*(s["subjects"] for s in report["splits"].values())) == set(people)
    assert any("JAFFE: found 70 images, the official release has 213" in w for w in report["warnings"])
    for person in [f"{s}{x}{n:02d}" for s in "AB" for x in "FM" for n in range(1, 4)]:
        for cls, code in KDEF.items():
            for angle in ("S", "HL", "FR"):
                write_image(tmp_path / "KDEF" / person / f"{person}{code}{angle}.JPG", np.full((80, 60, 3), LEVEL[cls], np.uint8))
    report = describe_json(capsys, spec_file(tmp_path, "kdef", tmp_path / "KDEF"))
    assert total_counts(report) == dict.fromkeys(report["classes"], 12)
    assert report["excluded"] == {"angle HL (not straight)": 84, "angle FR (not straight)": 84}
    # The same person in sessions A and B is one subject.
    assert set().union(*(s["subjects"] for s in report["splits"].values())) == {"F01", "F02", "F03", "M01", "M02", "M03"}
