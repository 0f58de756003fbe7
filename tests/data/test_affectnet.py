"""AffectNet loaders on generated files laid out exactly like the official release
and like the common class-folder copies."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import class_tree, write_affectnet_csv, write_image

from ferbench.data import load_dataset
from ferbench.errors import DataError
from ferbench.spec.types import DerivedSplit

EIGHT = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt")
AFFECTNET_ORDER = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")


def face_level(code: int, i: int) -> int:
    return 40 + 20 * code + 3 * i


def make_release(root, *, lists_folder: str = "", validation_header: bool = True, big: bool = False):
    """Images whose face box holds one grey level (by code) and whose surroundings are white."""
    rng = np.random.default_rng(0)
    tables = {"training.csv": [], "validation.csv": []}
    for name, per_code in (("training.csv", 3), ("validation.csv", 1)):
        for code in range(11):
            for i in range(per_code if code < 8 else 1):
                h, w = (800, 700) if big else (160, 200)
                img = np.full((h, w, 3), 255, np.uint8)
                fx, fy = int(rng.integers(5, w // 4)), int(rng.integers(5, h // 4))
                fw, fh = w // 2, h // 2
                img[fy : fy + fh, fx : fx + fw] = face_level(code, i)
                rel = f"{100 + code}/{name[:5]}_{code}_{i}.jpg"
                write_image(root / "Manually_Annotated_Images" / rel, img)
                tables[name].append([rel, fx, fy, fw, fh, "1.0;2.0", code, 0.1, -0.2])
    for name, rows in tables.items():
        header = validation_header or name == "training.csv"
        write_affectnet_csv(root / lists_folder / name, rows, header=header)
    return root


def spec_for(make_spec, root, **kw):
    kw.setdefault("splits", ("train", DerivedSplit("train", 0.34), "validation"))
    kw.setdefault("color", "rgb")
    return make_spec(kind="affectnet", path=root, **kw)


def test_official_release_seven_classes(tmp_path, make_spec):
    make_release(tmp_path / "affectnet")
    data = load_dataset(spec_for(make_spec, tmp_path / "affectnet"), seed=1)
    assert data.source.startswith("AffectNet official release")
    assert data.excluded == {"8 none": 2, "9 uncertain": 2, "10 non-face": 2, "7 (contempt)": 4}
    test = data.splits["test"]
    assert test.name == "validation" and len(test) == 7 and test.x.shape[1:] == (48, 48, 3)
    assert len(data.splits["train"]) + len(data.splits["validation"]) == 21
    # Cropped to the face box: every pixel is the face's level (no white border).
    for x, y in zip(test.x, test.y):
        code = AFFECTNET_ORDER.index(data.classes[y])
        assert abs(int(np.median(x)) - face_level(code, 0)) <= 3
        assert x.max() < face_level(code, 0) + 20


def test_official_release_eight_classes_lists_folder_and_no_header(tmp_path, make_spec):
    root = make_release(tmp_path / "an", lists_folder="Manually_Annotated_file_lists", validation_header=False, big=True)
    data = load_dataset(spec_for(make_spec, root, classes=EIGHT, color="grayscale", image_size=32))
    assert "contempt" not in " ".join(data.excluded)
    test = data.splits["test"]
    assert test.counts(8).tolist() == [1] * 8
    for x, y in zip(test.x, test.y):  # large images decode at reduced scale; the crop still fits
        code = AFFECTNET_ORDER.index(EIGHT[y])
        assert abs(int(np.median(x)) - face_level(code, 0)) <= 3


def test_official_release_bad_rows(tmp_path, make_spec):
    root = make_release(tmp_path / "an")
    csv_path = root / "validation.csv"
    lines = csv_path.read_text().splitlines()
    lines.append("999/missing.jpg,1,1,20,20,,3,0,0")  # line 13
    lines.append("999/other.jpg,1,1,20,20,,12,0,0")  # line 14
    csv_path.write_text("\n".join(lines) + "\n")
    (root / "Manually_Annotated_Images" / "101" / "valid_1_0.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.raises(DataError) as err:
        load_dataset(spec_for(make_spec, root))
    msg = str(err.value)
    assert "3 bad sample(s)" in msg
    assert "validation.csv:13 (Manually_Annotated_Images/999/missing.jpg): file not found" in msg
    assert "validation.csv:14: expression 12 is not an AffectNet code 0..10" in msg
    assert "valid_1_0.jpg): corrupt or unsupported image" in msg
    data = load_dataset(spec_for(make_spec, root, on_bad_sample="skip"))
    assert data.skipped == 3 and len(data.splits["test"]) == 6


def test_official_release_wrong_columns(tmp_path, make_spec):
    root = make_release(tmp_path / "an")
    (root / "training.csv").write_text("subDirectory_filePath,x,y\nabc,1,2\n")
    with pytest.raises(DataError, match=r"training.csv:1: missing column\(s\) face_x, face_y, face_width, face_height, expression"):
        load_dataset(spec_for(make_spec, root))


def test_class_folder_copies_names_and_digits(tmp_path, make_spec):
    rng = np.random.default_rng(1)
    names = {"anger": 3, "Contempt": 2, "disgust": 3, "fear": 3, "happy": 3, "neutral": 3, "sad": 3, "surprise": 3}
    digits = {str(d): 2 for d in range(8)}
    class_tree(tmp_path / "an", {"train": names, "val": digits}, rng, size=40, ext=".jpg")
    data = load_dataset(spec_for(make_spec, tmp_path / "an", classes=EIGHT), seed=0)
    assert data.source.startswith("AffectNet class folders")
    assert data.splits["test"].name == "validation" or data.splits["test"].name.startswith("val")
    assert data.splits["test"].counts(8).tolist() == [2] * 8
    # val/6 holds level 20 + 30*6 (sorted folder order 0..7): AffectNet's 6 is anger.
    test = data.splits["test"]
    angry = test.x[test.y == EIGHT.index("angry")]
    assert abs(int(np.median(angry)) - (20 + 30 * 6)) <= 3
    neutral = test.x[test.y == EIGHT.index("neutral")]
    assert abs(int(np.median(neutral)) - 20) <= 3
    train = np.add(data.splits["train"].counts(8), data.splits["validation"].counts(8))
    assert train[EIGHT.index("angry")] == 3 and train[EIGHT.index("contempt")] == 2
    seven = load_dataset(spec_for(make_spec, tmp_path / "an"), seed=0)
    assert seven.excluded == {"Contempt (contempt)": 2, "7 (contempt)": 2}


def _landmarks(left: tuple[float, float], right: tuple[float, float]) -> str:
    """68 points, all at the image-left eye's centre except points 43-48 at the other eye's."""
    pts = [right if 42 <= i < 48 else left for i in range(68)]
    return ";".join(f"{x:.1f};{y:.1f}" for x, y in pts)


def test_official_release_with_its_boxes_and_landmarks_levels_the_eyes(tmp_path, make_spec):
    """dataset.faces {detector: boxes, align: eyes}: the list files' boxes and eye landmarks, no detector."""
    pytest.importorskip("cv2", reason="the faces stage is the [faces] extra")
    from ferbench.spec.types import FacesSpec

    root = tmp_path / "affectnet"
    rows = {"training.csv": [], "validation.csv": []}
    for name, per_code in (("training.csv", 2), ("validation.csv", 1)):
        for code in range(7):
            for i in range(per_code):
                img = np.full((160, 200, 3), 200, np.uint8)
                left, right = (80, 70), (120, 84)  # eyes on a line tilted by atan(14/40) = 19 degrees
                for x, y in (left, right):
                    img[y - 4:y + 5, x - 4:x + 5] = 0
                rel = f"{100 + code}/{name[:5]}_{code}_{i}.jpg"
                write_image(root / "Manually_Annotated_Images" / rel, img)
                rows[name].append([rel, 60, 37, 80, 80, _landmarks(left, right), code, 0.1, -0.2])
    for name, r in rows.items():
        write_affectnet_csv(root / name, r)
    faces = FacesSpec("boxes", "eyes", 0.0, 24, "skip", "largest")
    data = load_dataset(spec_for(make_spec, root, color="grayscale", image_size=80, faces=faces), seed=1)
    assert len(data.splits["test"]) == 7 and data.faces["validation"]["0"] == {"images": 1, "one": 1, "none": 0, "several": 0}
    for x in data.splits["test"].x[..., 0]:
        a, b = np.argwhere(x[:, :40] < 80).mean(axis=0), np.argwhere(x[:, 40:] < 80).mean(axis=0)
        assert abs(a[0] - b[0]) < 2  # level
    plain = load_dataset(spec_for(make_spec, root, color="grayscale", image_size=80), seed=1).splits["test"].x[0, ..., 0]
    assert np.argwhere(plain[:, 40:] < 80).mean(axis=0)[0] - np.argwhere(plain[:, :40] < 80).mean(axis=0)[0] > 10  # tilted as given
def test_official_release_box_partly_outside_and_partial_copy_warning(tmp_path, make_spec):
    root = make_release(tmp_path / "an")
    # A face in the image's bottom-right corner whose box runs 30 px past both edges:
    # the crop is clamped to the image, so only face pixels remain.
    img = np.full((160, 200, 3), 255, np.uint8)
    img[100:, 140:] = face_level(3, 0)
    write_image(root / "Manually_Annotated_Images" / "900" / "edge.jpg", img)
    with open(root / "validation.csv", "a") as fh:
        fh.write("900/edge.jpg,140,100,90,90,,3,0,0\n")
    data = load_dataset(spec_for(make_spec, root, on_bad_sample="error"))
    test = data.splits["test"]
    assert test.counts(7)[EIGHT.index("surprise")] == 2
    for x in test.x[test.y == EIGHT.index("surprise")]:
        assert abs(int(np.median(x)) - face_level(3, 0)) <= 3 and x.max() < face_level(3, 0) + 20
    assert any("validation.csv lists neutral 1, happy 1, sad 1, surprise 2" in w and "500 per class" in w for w in data.warnings)
    assert data.excluded["10 non-face"] == 2  # codes 8-10 are left out and counted


def test_describe_json_counts_equal_the_written_lists(tmp_path, capsys, monkeypatch):
    from test_expw_ckplus_jaffe_kdef import spec_file
    from test_rafdb import describe_json

    monkeypatch.setenv("FERBENCH_CACHE", str(tmp_path / "cache"))
    make_release(tmp_path / "an")  # training.csv: 3 faces per code 0-7, validation.csv: 1; one row per code 8-10 each
    report = describe_json(capsys, spec_file(tmp_path, "affectnet", tmp_path / "an", "  color: rgb\n"
                                             "  classes: [angry, disgust, fear, happy, sad, surprise, neutral, contempt]\n"
                                             "  splits: {validation: {from: train, fraction: 0.34}}\n"))
    s = report["splits"]
    assert s["test"]["name"] == "validation" and s["test"]["counts"] == dict.fromkeys(report["classes"], 1)
    assert {c: s["train"]["counts"][c] + s["validation"]["counts"][c] for c in report["classes"]} == dict.fromkeys(report["classes"], 3)
    assert report["excluded"] == {"8 none": 2, "9 uncertain": 2, "10 non-face": 2}
