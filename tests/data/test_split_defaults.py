"""Splits a spec leaves out follow the layout found at dataset.path, and the spec says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from data_helpers import class_tree, small_fer, write_fer_csv

from ferbench.data import load_dataset
from ferbench.plan import plan_spec, spec_hash
from ferbench.spec import load_spec
from ferbench.spec.types import DerivedSplit

REPO = Path(__file__).resolve().parents[2]
FER = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CSV_SPLITS = {"train": "Training", "validation": "PublicTest", "test": "PrivateTest"}
FOLDER_SPLITS = {"train": "train", "validation": {"from": "train", "fraction": 0.1, "stratified": True}, "test": "test"}


def write_spec(tmp_path: Path, path: Path | str, extra: str = "", name: str = "spec.yaml") -> Path:
    spec = tmp_path / name
    spec.write_text(
        "ferbench: 1\nname: fer\nseed: 1\n"
        f"dataset:\n  kind: fer2013\n  path: {path}\n  cache: {tmp_path / 'cache'}\n{extra}"
        "search: {trials: 1, space: {learning_rate: {float: [1.0e-3, 1.0e-2], log: true}}}\n"
    )
    return spec


def splits_of(spec_file: Path, *sets: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    spec = load_spec(spec_file, list(sets))
    return dict(spec.raw["dataset"]["splits"]), spec.notes


def test_generated_class_folders_get_folder_defaults_and_load(tmp_path: Path) -> None:
    root = tmp_path / "fer"
    class_tree(root, {"train": {c: 10 for c in FER}, "test": {c: 2 for c in FER}}, np.random.default_rng(0))
    spec = load_spec(write_spec(tmp_path, root))
    assert spec.raw["dataset"]["splits"] == FOLDER_SPLITS
    assert spec.dataset.splits.validation == DerivedSplit("train", 0.1, True)
    (note,) = spec.notes
    assert note.startswith(f"dataset.splits not given: the defaults of the FER2013 class folders found at {root}")
    assert "validation = 10% of train (stratified)" in note
    data = load_dataset(spec.dataset, seed=spec.seed)
    assert [data.splits[k].name for k in ("train", "validation", "test")] == ["train[rest 0.9]", "train[derived 0.1]", "test"]
    assert len(data.splits["validation"]) == 7 and len(data.splits["test"]) == 14
    run = plan_spec(spec, gpus=[]).runs[0]
    assert note in run.notes  # shown by `ferbench plan`


def test_real_folder_sample_gets_folder_defaults(tmp_path: Path, fer2013_dir: Path) -> None:
    spec = load_spec(write_spec(tmp_path, fer2013_dir / "folder-sample"))
    assert spec.raw["dataset"]["splits"] == FOLDER_SPLITS
    data = load_dataset(spec.dataset, seed=spec.seed)
    assert data.splits["validation"].counts(7).tolist() == [6] * 7  # 10% of 60 per class
    assert data.splits["train"].counts(7).tolist() == [54] * 7
    assert data.splits["test"].counts(7).tolist() == [20] * 7


def test_csv_defaults_and_run_ids_do_not_change(tmp_path: Path) -> None:
    rows, _, _ = small_fer(np.random.default_rng(1))
    csv = write_fer_csv(tmp_path / "fer" / "fer2013.csv", rows)
    implicit = load_spec(write_spec(tmp_path, csv.parent))
    explicit = load_spec(write_spec(tmp_path, csv.parent, "  splits: {train: Training, validation: PublicTest, test: PrivateTest}\n", "explicit.yaml"))
    assert implicit.raw["dataset"]["splits"] == CSV_SPLITS
    assert json.dumps(implicit.raw, sort_keys=True) == json.dumps(explicit.raw, sort_keys=True)
    assert spec_hash(implicit.raw) == spec_hash(explicit.raw)
    assert implicit.notes == (
        f"dataset.splits not given: the defaults of the FER2013 Kaggle CSV found at {csv.parent}: "
        "train = Training, validation = PublicTest, test = PrivateTest",
    )
    assert explicit.notes == ()
    assert len(load_dataset(implicit.dataset).splits["test"]) == 7


def test_missing_path_uses_the_first_layout_and_layout_forces_one(tmp_path: Path) -> None:
    splits, notes = splits_of(write_spec(tmp_path, tmp_path / "elsewhere"))
    assert splits == CSV_SPLITS
    assert f"({tmp_path / 'elsewhere'} does not exist here: the first layout of fer2013)" in notes[0]
    splits, notes = splits_of(write_spec(tmp_path, tmp_path / "elsewhere", "  layout: folders\n"))
    assert splits == FOLDER_SPLITS and "FER2013 class folders (dataset.layout: folders)" in notes[0]


def test_only_the_splits_left_out_get_defaults(tmp_path: Path) -> None:
    root = tmp_path / "fer"
    class_tree(root, {"train": {c: 2 for c in FER}, "test": {c: 1 for c in FER}}, np.random.default_rng(2))
    splits, notes = splits_of(write_spec(tmp_path, root, "  splits: {validation: {from: train, fraction: 0.5}}\n"))
    assert splits == {"validation": {"from": "train", "fraction": 0.5, "stratified": True}, "train": "train", "test": "test"}
    assert notes == (f"dataset.splits.train, dataset.splits.test not given: the defaults of the FER2013 class folders found at {root}: "
                     "train = train, test = test",)


@pytest.mark.parametrize("as_json", [False, True])
def test_data_describe_says_which_defaults(tmp_path: Path, as_json: bool) -> None:
    root = tmp_path / "fer"
    class_tree(root, {"train": {c: 10 for c in FER}, "test": {c: 2 for c in FER}}, np.random.default_rng(3))
    spec = write_spec(tmp_path, root)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "ferbench", "data", "describe", str(spec), *(["--json"] if as_json else [])],
                       env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    said = "dataset.splits not given: the defaults of the FER2013 class folders found at"
    if as_json:
        report = json.loads(r.stdout)
        assert len(report["notes"]) == 1 and report["notes"][0].startswith(said)
        assert report["splits"]["validation"]["name"] == "train[derived 0.1]"
    else:
        assert f"note         {said}" in r.stdout
