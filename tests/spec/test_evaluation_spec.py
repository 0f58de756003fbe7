"""The evaluation keys of a spec: evaluate.calibrate, evaluate.robustness and the
val_balanced_accuracy objective: what they resolve to, located errors, and that specs
which leave them out keep their run ids."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from ferbench.plan import plan_spec
from ferbench.spec import check_file, load_spec
from ferbench.spec.enums import CorruptionName
from ferbench.spec.types import RobustnessSpec

BASE = """\
ferbench: 1
name: e
dataset:
  kind: synthetic
  image_size: 32
model: {stages: [0, 1, 2], depth: 0.25, top_filters: 32}
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "s.yaml").write_text(BASE + extra, encoding="utf-8")
    return Path("s.yaml")


def test_calibrate_and_robustness_resolve(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, "evaluate:\n  calibrate: temperature\n  robustness: {}\n"))
    assert spec.evaluate.calibrate == "temperature"
    assert spec.evaluate.robustness == RobustnessSpec(corruptions=get_args(CorruptionName), severities=(1, 2, 3, 4, 5))
    some = load_spec(write(tmp_path, "evaluate:\n  robustness: {corruptions: [jpeg, occlusion_eyes], severities: [5]}\n"))
    assert some.evaluate.robustness == RobustnessSpec(corruptions=("jpeg", "occlusion_eyes"), severities=(5,))
    assert some.evaluate.calibrate == "none"


@pytest.mark.parametrize(("extra", "where"), [
    ("evaluate:\n  robustness: {corruptions: [fog]}\n", "s.yaml:8:30: evaluate.robustness.corruptions[0]"),
    ("evaluate:\n  robustness: {severities: [6]}\n", "s.yaml:8:29: evaluate.robustness.severities[0]"),
    ("evaluate:\n  calibrate: platt\n", "s.yaml:8:14: evaluate.calibrate"),
])
def test_mistakes_are_located(tmp_path: Path, extra: str, where: str) -> None:
    errors = [str(e) for e in check_file(write(tmp_path, extra)).errors]
    assert len(errors) == 1 and errors[0].startswith(where), errors


def test_balanced_accuracy_is_an_objective(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, "search:\n  objective: {metric: val_balanced_accuracy}\n"))
    assert (spec.search.metric, spec.search.direction) == ("val_balanced_accuracy", "maximize")
    several = load_spec(write(tmp_path, "search:\n  objectives: [{metric: val_balanced_accuracy}, {metric: params}]\n"))
    assert several.search.validation_metrics == ("val_balanced_accuracy",)


def test_specs_without_the_new_keys_keep_their_run_ids(tmp_path: Path) -> None:
    plain = plan_spec(load_spec(write(tmp_path, "")), gpus=[]).runs[0]
    assert "calibrate" not in plain.spec.raw.get("evaluate", {}) and "robustness" not in plain.spec.raw.get("evaluate", {})
    calibrated = plan_spec(load_spec(write(tmp_path, "evaluate: {calibrate: temperature}\n")), gpus=[]).runs[0]
    assert plain.run_id != calibrated.run_id


def test_an_extra_test_set_may_name_a_list_of_images_and_without_one_keeps_its_run_id(tmp_path: Path) -> None:
    on = "evaluate:\n  on:\n    - {name: occluded, dataset: {kind: synthetic}, split: test%s}\n"
    listed = load_spec(write(tmp_path, on % ", images: lists/occluded.txt"))
    assert listed.evaluate.on[0].images == "lists/occluded.txt"
    plain = plan_spec(load_spec(write(tmp_path, on % "")), gpus=[]).runs[0]
    assert plain.spec.evaluate.on[0].images is None and "images" not in plain.spec.raw["evaluate"]["on"][0]
    assert plan_spec(listed, gpus=[]).runs[0].run_id != plain.run_id
    errors = [str(e) for e in check_file(write(tmp_path, on % ", images: ''")).errors]
    assert len(errors) == 1 and errors[0].startswith("s.yaml:9:73: evaluate.on[0].images"), errors
