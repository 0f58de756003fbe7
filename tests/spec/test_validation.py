"""Two-phase validation: every error located, all at once, with fixes suggested."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ferbench.spec import check_file, load_spec

GOOD = """\
ferbench: 1
name: t
dataset:
  kind: synthetic
  image_size: 32
model:
  stages: [0, 1, 2]
search:
  trials: 3
  space:
    width: {float: [0.2, 1.4], step: 0.05}
    learning_rate: {float: [1.0e-4, 1.0e-2], log: true}
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # error lines show paths as given: s.yaml:LINE:COL


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    (tmp_path / name).write_text(textwrap.dedent(text))
    return Path(name)


def errors(tmp_path: Path, text: str, *sets: str) -> list[str]:
    return [str(e) for e in check_file(write(tmp_path, text), list(sets)).errors]


def test_good_spec_resolves_with_defaults(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.model.width is None and spec.model.depth == 1.0 and spec.model.top_filters == 1280
    assert spec.train.learning_rate is None and spec.train.batch_size == 64
    assert [p.name for p in spec.search.space] == ["width", "learning_rate"]
    assert spec.search.direction == "minimize" and spec.search.sampler.options["seed"] == spec.seed
    assert spec.input_shape == (32, 32, 1) and spec.num_classes == 7


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            ("kind: synthetic", "kind: synthetc"),
            "s.yaml:4:9: dataset.kind: must be one of 'fer2013', 'affectnet', 'folder', 'synthetic', 'rafdb', 'expw', 'ckplus', 'jaffe', 'kdef'; got 'synthetc'; did you mean 'synthetic'?",
        ),
        (("  image_size: 32", "  image_sise: 32"), "s.yaml:5:3: dataset.image_sise: unknown key 'image_sise'; did you mean 'image_size'?"),
        (("trials: 3", "trials: three"), "s.yaml:9:11: search.trials: expected integer, got string 'three'"),
        (("[0.2, 1.4], step", "[1.4, 0.2], step"), "s.yaml:11:20: search.space.width.float: low must be < high, got 1.4 >= 0.2"),
        (("step: 0.05", "step: 0.07"), "s.yaml:11:38: search.space.width.step: step 0.07 does not divide the range 0.2..1.4 (17.1 steps); adjust high to 1.39"),
        (
            ("log: true", "log: true, step: 0.001"),
            "s.yaml:12:46: search.space.learning_rate.log: log scale with a step is not supported (Optuna refuses it); drop one",
        ),
        (
            ("    learning_rate", "    dropout: {float: [0.0, 0.5], log: true}\n    learning_rate"),
            "s.yaml:12:22: search.space.dropout.float: log scale needs low > 0, got 0.0",
        ),
        (
            ("stages: [0, 1, 2]", "stages: [1, 2]"),
            "s.yaml:7:11: model.stages: kept stages must be a prefix of 0..6 starting at 0 in order, e.g. [0, 1]; got [1, 2]",
        ),
        (
            ("stages: [0, 1, 2]", "stages: [0, 1, 2]\n  width: 0.5"),
            "s.yaml:8:10: model.width: width is both fixed here and searched in search.space (line 12); remove one, or fix it with --set model.width=VALUE",
        ),
        (("ferbench: 1", "ferbench: 2"), "s.yaml:1:11: ferbench: must be 1, got 2"),
        (("  image_size: 32", "  image_size: 32\n  classes: [angry, happy, angry]"), "s.yaml:6:27: dataset.classes[2]: class 'angry' is listed twice"),
        (
            ("name: t", "name: t\nreport: {compare: [human_fer213]}"),
            "s.yaml:3:20: report.compare[0]: unknown baseline 'human_fer213'; did you mean 'human_fer2013'?",
        ),
        (
            ("name: t", "name: t\ntracking: {mlflow: {uri: 'localhost:5000'}}"),
            "s.yaml:3:26: tracking.mlflow.uri: 'localhost:5000' is not a tracking URI MLflow reads; use one of http:, https:, file:, sqlite: ..., "
            "or an absolute path (e.g. http://127.0.0.1:5000)",
        ),
        (
            ("name: t", "name: t\nmatrix: {loss.class_wieght: [none]}"),
            "s.yaml:3:10: matrix.loss.class_wieght: loss.class_wieght is not a spec path; did you mean 'class_weight'?",
        ),
        (
            ("name: t", "name: t\nmatrix: {loss.class_weight: [none, bogus]}"),
            "s.yaml:3:36: loss.class_weight: must be one of 'none', 'inverse_frequency', 'effective_number'; got 'bogus'",
        ),
    ],
)
def test_each_mistake_gives_one_located_error(tmp_path, edit, expected):
    old, new = edit
    assert old in GOOD
    assert errors(tmp_path, GOOD.replace(old, new, 1)) == [expected]


def test_missing_key_points_at_the_parent_mapping(tmp_path):
    assert errors(tmp_path, GOOD.replace("  kind: synthetic\n", "")) == ["s.yaml:4:3: dataset: missing required key 'kind'"]


def test_all_errors_are_reported_at_once(tmp_path):
    text = GOOD.replace("stages: [0, 1, 2]", "stages: [0, 2]").replace("step: 0.05", "step: 0.07")
    assert len(errors(tmp_path, text)) == 2


CARVE = "carve validation from train instead, e.g. validation: {from: train, fraction: 0.1}"


def test_same_validation_and_test_split_is_an_error(tmp_path: Path) -> None:
    # data describe (load_dataset) refuses it, so validate does too, with the same fix.
    text = GOOD.replace("  image_size: 32", "  image_size: 32\n  splits: {validation: test, test: test}")
    assert errors(tmp_path, text) == [
        "s.yaml:6:24: dataset.splits.validation: validation and test are the same split ('test'): "
        f"the best trial would be chosen on the data it is scored on; {CARVE}"
    ]


@pytest.mark.parametrize(
    "splits, message",
    [
        ("{train: Training, validation: PublicTest, test: publictest}", "validation and test are the same split ('PublicTest')"),
        ("{train: train, validation: val, test: validation}", "validation and test overlap ('val' and 'validation')"),
        ("{train: Training, validation: PublicTest, test: test}", "validation and test overlap ('PublicTest' and 'test')"),
        ("{train: Training, validation: training, test: PrivateTest}", f"train and validation are the same split ('Training'): {CARVE}"),
    ],
)
def test_overlapping_named_splits_are_errors_at_validation(tmp_path: Path, splits: str, message: str) -> None:
    text = GOOD.replace("kind: synthetic", f"kind: fer2013\n  path: /data/fer2013\n  splits: {splits}")
    (err,) = errors(tmp_path, text)
    assert err.startswith("s.yaml:6:") and f"dataset.splits.validation: {message}" in err


def test_train_equal_to_test_is_an_error_at_test(tmp_path: Path) -> None:
    text = GOOD.replace("kind: synthetic", "kind: fer2013\n  path: /data/fer2013\n  splits: {train: Training, validation: PublicTest, test: Training}")
    assert errors(tmp_path, text) == ["s.yaml:6:59: dataset.splits.test: train and test are the same split ('Training'): give test a split of its own"]


def test_distinct_and_derived_splits_pass(tmp_path: Path) -> None:
    splits = "{train: Training, validation: {from: train, fraction: 0.1}, test: test}"
    text = GOOD.replace("kind: synthetic", f"kind: fer2013\n  path: /data/fer2013\n  splits: {splits}")
    checked = check_file(write(tmp_path, text))
    assert checked.ok and not checked.warnings


def test_extends_env_and_set(tmp_path, monkeypatch):
    write(tmp_path, GOOD, "base.yaml")
    child = write(tmp_path, """\
        ferbench: 1
        extends: base.yaml
        name: child
        dataset:
          kind: fer2013
          path: ${MYDATA}/fer2013
          image_size: 48
        train:
          batch_size: ${BS:-32}
    """, "child.yaml")
    monkeypatch.setenv("MYDATA", "/datasets")
    spec = load_spec(child, ["model.width=1.0", "search.trials=7"])
    assert spec.name == "child" and spec.dataset.path == "/datasets/fer2013" and spec.dataset.image_size == 48
    assert spec.train.batch_size == 32  # a value that is exactly ${VAR} is YAML-typed after expansion
    assert spec.model.width == 1.0 and [p.name for p in spec.search.space] == ["learning_rate"]
    assert spec.search.trials == 7 and spec.model.stages == (0, 1, 2)
    assert any("width fixed at 1.0" in n for n in spec.notes)


def test_unset_variable_is_located(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE", raising=False)
    text = GOOD.replace("kind: synthetic", "kind: fer2013\n  path: ${NOPE}/x")
    assert errors(tmp_path, text) == ["s.yaml:5:9: dataset.path: environment variable NOPE is not set (set it, or write ${NOPE:-default})"]


def test_bad_override_value_is_located_at_the_override(tmp_path):
    assert errors(tmp_path, GOOD, "train.max_epochs=abc") == ["--set train.max_epochs=abc:1:18: train.max_epochs: expected integer, got string 'abc'"]


def test_extends_cycle(tmp_path):
    write(tmp_path, "ferbench: 1\nextends: b.yaml\nname: a\n", "a.yaml")
    write(tmp_path, "ferbench: 1\nextends: a.yaml\nname: b\n", "b.yaml")
    (err,) = check_file("a.yaml").errors
    assert "extends cycle" in err.message


def test_extends_through_a_symlink_loop_or_to_a_folder_is_located_at_extends(tmp_path):
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to(tmp_path / "loop.yaml")
    (tmp_path / "folder").mkdir()
    assert errors(tmp_path, "ferbench: 1\nname: a\nextends: loop.yaml\n") == ["s.yaml:3:10: extends: base spec 'loop.yaml' is a symlink loop"]
    assert errors(tmp_path, "ferbench: 1\nname: a\nextends: folder\n") == ["s.yaml:3:10: extends: base spec 'folder' is a folder"]
    assert errors(tmp_path, 'ferbench: 1\nname: a\nextends: "a\\0b"\n') == ["s.yaml:3:10: extends: extends must be a file path, got 'a\\x00b'"]


def test_extends_cannot_be_set_on_the_command_line(tmp_path):
    # Bases are merged before overrides apply: a --set extends would be silently ignored.
    assert errors(tmp_path, GOOD, "extends=other.yaml") == [
        "--set extends=other.yaml:1:1: extends: cannot be set with --set (bases are merged first); write extends: FILE in the spec"
    ]


def test_faces_block_resolves_with_defaults_and_is_refused_where_it_cannot_apply(tmp_path: Path) -> None:
    photos = GOOD.replace("kind: synthetic", "kind: folder\n  path: photos\n  faces: {detector: mtcnn, align: eyes}")
    spec = load_spec(write(tmp_path, photos))
    f = spec.dataset.faces
    assert f is not None and (f.detector, f.align, f.margin, f.min_size, f.on_none, f.on_many) == ("mtcnn", "eyes", 0.2, 24, "skip", "largest")
    assert load_spec(write(tmp_path, GOOD, "plain.yaml")).dataset.faces is None
    assert errors(tmp_path, GOOD.replace("kind: synthetic", "kind: synthetic\n  faces: {detector: haar}")) == [
        "s.yaml:5:10: dataset.faces: synthetic images are face crops already; remove dataset.faces"]
    haar_eyes = photos.replace("detector: mtcnn", "detector: haar")
    assert errors(tmp_path, haar_eyes) == ["s.yaml:6:34: dataset.faces.align: haar finds no eyes to align by; use detector: mtcnn, or align: none"]
    boxes = photos.replace("detector: mtcnn, align: eyes", "detector: boxes")
    assert errors(tmp_path, boxes)[0].endswith("dataset.faces.detector: boxes uses the face boxes a dataset ships, and folder ships none; use haar or mtcnn")
    assert "dataset.faces.on_many" in errors(tmp_path, photos.replace("align: eyes", "align: eyes, on_many: every"))[0]
    # ExpW's label.lst and RAF-DB's Annotation/boundingbox/ ship boxes; only RAF-DB's manual landmarks give eyes.
    for kind in ("expw", "rafdb"):
        assert load_spec(write(tmp_path, boxes.replace("kind: folder", f"kind: {kind}"), f"{kind}.yaml")).dataset.faces.detector == "boxes"
    raf_eyes = photos.replace("kind: folder", "kind: rafdb").replace("detector: mtcnn", "detector: boxes")
    assert load_spec(write(tmp_path, raf_eyes, "raf_eyes.yaml")).dataset.faces.align == "eyes"
    assert errors(tmp_path, raf_eyes.replace("kind: rafdb", "kind: expw")) == [
        "s.yaml:6:35: dataset.faces.align: ExpW's label.lst gives boxes without landmarks, so no eyes to align by; use detector: mtcnn, or align: none"]
