"""``ferbench data describe`` as users run it: tables, JSON, errors, and no TensorFlow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ferbench.spec.types import DatasetSpec

REPO = Path(__file__).resolve().parents[2]

SYNTHETIC = """\
ferbench: 1
name: syn
seed: 7
dataset:
  kind: synthetic
  image_size: 32
  synthetic: {train: 140, validation: 35, test: 35}
loss: {class_weight: inverse_frequency}
search: {trials: 1, space: {learning_rate: {float: [1.0e-3, 1.0e-2], log: true}}}
"""

FER = """\
ferbench: 1
name: fer
seed: 1
dataset:
  kind: fer2013
  path: ${FERBENCH_DATA}/fer2013
search: {trials: 1, space: {learning_rate: {float: [1.0e-3, 1.0e-2], log: true}}}
"""

# Runs the CLI in-process in a fresh interpreter, then checks what it imported.
PROBE = (
    "import sys; from ferbench.cli.main import main; rc = main(sys.argv[1:]); "
    "heavy = [m for m in ('tensorflow', 'keras', 'optuna') if m in sys.modules]; "
    "print('HEAVY', heavy, file=sys.stderr); sys.exit(rc)"
)


def describe(tmp_path: Path, spec_text: str, *args: str, data_root: Path | None = None) -> subprocess.CompletedProcess[str]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text)
    env = {**os.environ, "PYTHONPATH": str(REPO), "FERBENCH_CACHE": str(tmp_path / "cache")}
    if data_root is not None:
        env["FERBENCH_DATA"] = str(data_root)
    return subprocess.run([sys.executable, "-c", PROBE, "data", "describe", str(spec), *args],
                          env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_describe_synthetic_table_and_json_without_tensorflow(tmp_path):
    r = describe(tmp_path, SYNTHETIC)
    assert r.returncode == 0, r.stderr
    assert "HEAVY []" in r.stderr
    assert "class weight inverse_frequency" in r.stdout and "disgust" in r.stdout and "total" in r.stdout
    r = describe(tmp_path, SYNTHETIC, "--json", "--set", "loss.class_weight=effective_number")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["splits"]["train"]["total"] == 140
    assert report["class_weight"]["method"] == "effective_number" and report["class_weight"]["beta"] == 0.999
    assert set(report["class_weight"]["weights"]) == set(report["classes"])
    assert report["duplicates"] == {"train&validation": 0, "train&test": 0, "validation&test": 0}


def test_describe_reports_data_errors_with_exit_2(tmp_path):
    r = describe(tmp_path, FER, data_root=tmp_path / "nowhere")
    assert r.returncode == 2
    assert "fer2013: not found; set dataset.path" in r.stderr and "Traceback" not in r.stderr


def test_describe_real_fer2013(tmp_path, fer2013_dir, fer_cache):
    spec = tmp_path / "spec.yaml"
    spec.write_text(FER)
    env = {**os.environ, "PYTHONPATH": str(REPO), "FERBENCH_CACHE": str(fer_cache), "FERBENCH_DATA": str(fer2013_dir.parent)}
    r = subprocess.run([sys.executable, "-c", PROBE, "data", "describe", str(spec), "--json"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "HEAVY []" in r.stderr
    report = json.loads(r.stdout)
    assert report["splits"]["train"]["counts"]["disgust"] == 436 and report["splits"]["test"]["total"] == 3589
    assert report["duplicates"]["train&validation"] == 280
    assert report["blank"] == {"train": 11, "validation": 1, "test": 0}


def test_validate_and_describe_both_refuse_validation_equal_to_test(tmp_path: Path) -> None:
    spec_text = SYNTHETIC.replace("  image_size: 32\n", "  image_size: 32\n  splits: {validation: test}\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text)
    env = {**os.environ, "PYTHONPATH": str(REPO), "FERBENCH_CACHE": str(tmp_path / "cache")}
    fix = "carve validation from train instead, e.g. validation: {from: train, fraction: 0.1}"
    v = subprocess.run([sys.executable, "-m", "ferbench", "validate", "spec.yaml"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert v.returncode == 2 and "Traceback" not in v.stderr
    assert "spec.yaml:7:24: dataset.splits.validation: validation and test are the same split ('test'): " in v.stderr and fix in v.stderr
    d = describe(tmp_path, spec_text)
    assert d.returncode == 2 and "Traceback" not in d.stderr
    assert "dataset.splits.validation: validation and test are the same split" in d.stderr and fix in d.stderr


def test_loading_refuses_shared_samples_with_the_same_fix(make_spec: Callable[..., DatasetSpec]) -> None:
    from ferbench.data import load_dataset
    from ferbench.errors import DataError

    with pytest.raises(DataError) as err:
        load_dataset(make_spec(splits=("train", "test", "test")))
    assert str(err.value) == (
        "dataset.splits: validation (test) and test (test) share samples; the best trial would be chosen on the data it is "
        "scored on; carve validation from train instead, e.g. validation: {from: train, fraction: 0.1}"
    )
