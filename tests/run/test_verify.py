"""``ferbench verify``: 0 on an untouched run, 1 on an edited metric, 2 when it cannot verify.

One deterministic run (one trial, two epochs) on a tiny class-folder dataset that the
test writes, so "the data file changed" is a real file changing on disk. Each case
works on its own copy of the run folder; the CLI is called in process (``main``).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ferbench.run.verify import Difference, compare_records, environment_differences

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

SPEC = """\
ferbench: 1
name: verify_tiny
seed: 4
results: {results}
dataset:
  kind: folder
  path: {data}
  image_size: 16
  cache: {cache}
  splits: {{train: train, validation: {{from: train, fraction: 0.25}}, test: test}}
augment: {{enabled: true}}
model: {{stages: [0, 1], width: 0.25, depth: 0.25, dropout: 0.1, top_filters: 16}}
train: {{batch_size: 32, learning_rate: 0.005, max_epochs: 2}}
search: {{trials: 1, sampler: {{name: random}}}}
runtime: {{devices: cpu, deterministic: true}}
"""


# --- the comparison itself (no training) ----------------------------------------------------


def test_compare_is_exact_by_default_and_tolerant_on_request() -> None:
    a = {"trial": 3, "state": "complete", "epochs": 2, "history": {"loss": [1.5, 1.25]},
         "metrics": {"test": {"n": 10, "loss": 1.0, "confusion": [[1, 2]]}}}
    b = json.loads(json.dumps(a))
    assert compare_records(a, b).differences == []
    b["history"]["loss"][1] = 1.25 + 1e-9
    assert compare_records(a, b).differences == [Difference(3, "history.loss[1]", 1.25, 1.25 + 1e-9)]
    assert compare_records(a, b, tolerance=1e-6).differences == []
    b["metrics"]["test"]["confusion"][0][1] = 3  # counts are exact whatever the tolerance
    assert [d.field for d in compare_records(a, b, tolerance=0.5).differences] == ["metrics.test.confusion[0][1]"]
    del b["metrics"]
    assert {d.field for d in compare_records(a, b, tolerance=0.5).differences} >= {"metrics.test.loss", "metrics.test.n"}


def test_a_value_the_record_predates_is_listed_not_compared() -> None:
    """Results format 2 grows by optional keys: a metric added since the record was written is not a mismatch."""
    a = {"trial": 0, "metrics": {"test": {"n": 10, "accuracy": 0.5}}}
    b = {"trial": 0, "metrics": {"test": {"n": 10, "accuracy": 0.5, "kappa": 0.1}}}
    check = compare_records(a, b)
    assert check.differences == [] and check.newer == ["metrics.test.kappa"]
    b["metrics"]["test"]["accuracy"] = 0.25  # what the record holds is still compared
    assert [d.field for d in compare_records(a, b).differences] == ["metrics.test.accuracy"]
    assert [d.field for d in compare_records(b, a).differences] == ["metrics.test.accuracy", "metrics.test.kappa"]  # recorded, now missing


def test_environment_differences_name_versions_and_machine() -> None:
    rec = {"python": "3.11.7", "tensorflow": "2.21.0", "numpy": "2.4.6", "cpu": "A", "cpu_count": 2, "gpus": []}
    here = dict(rec, python="3.11.9", tensorflow="2.22.0", cpu_count=16)
    versions, machine = environment_differences(rec, here)
    assert versions == ["TensorFlow 2.21.0 (recorded) vs 2.22.0 (here)"]  # Python compared on major.minor
    assert machine == ["usable CPUs 2 (recorded) vs 16 (here)"]
    assert environment_differences({"python": "3.11.7"}, {"tensorflow": "x"}) == ([], [])  # absent keys: not compared


# --- the command on a real run --------------------------------------------------------------

def _write_dataset(root: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 16), ("test", 4)):
        for k, cls in enumerate(CLASSES):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                img = np.clip(rng.normal(30 + 30 * k, 25, (16, 16)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(folder / f"{i}.png")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("tensorflow")
    pytest.importorskip("optuna")
    from ferbench.run.progress import PlainReporter
    from ferbench.run.runner import run_spec

    root = tmp_path_factory.mktemp("verify")
    _write_dataset(root / "data")
    spec = root / "verify_tiny.yaml"
    spec.write_text(SPEC.format(results=root / "results", data=root / "data", cache=root / "cache"), encoding="utf-8")
    (result,) = run_spec(spec, reporter=PlainReporter(io.StringIO()))
    assert result.status == "complete"
    return result.folder


def _copy(folder: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy" / folder.name
    shutil.copytree(folder, dest, ignore=shutil.ignore_patterns("study.db", "best", ".lock"))
    return dest


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    from ferbench.cli.main import main

    capsys.readouterr()
    rc = main(["verify", *args])
    out = capsys.readouterr()
    return rc, out.out + out.err


def _edit_json(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.slow
def test_untouched_run_verifies_exactly(run_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _copy(run_folder, tmp_path)
    rc, out = _verify(capsys, str(folder))
    assert rc == 0, out
    assert "reproduced exactly" in out


@pytest.mark.slow
def test_edited_metric_is_a_mismatch_with_a_table(run_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _copy(run_folder, tmp_path)
    record = folder / "trials" / "0000" / "record.json"
    old = json.loads(record.read_text())["metrics"]["test"]["f1_macro"]

    def edit(r: dict) -> None:
        r["metrics"]["test"]["f1_macro"] = old + 0.0123

    _edit_json(record, edit)
    rc, out = _verify(capsys, str(folder), "--trial", "0")
    assert rc == 1, out
    assert "metrics.test.f1_macro" in out and repr(old) in out and repr(old + 0.0123) in out
    assert "1 of " in out and "values differ" in out  # only the edited value, nothing else
    assert "re-run" in out and "recorded" in out  # the table's header


@pytest.mark.slow
def test_changed_data_file_cannot_verify(run_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _copy(run_folder, tmp_path)
    from ferbench.run.verify import read_recorded

    data = Path(read_recorded(folder).spec.dataset.path)
    image = data / "test" / "happy" / "0.png"
    before = image.read_bytes()
    try:
        from PIL import Image

        arr = np.asarray(Image.open(image)).copy()
        arr[0, 0] ^= 0xFF  # one pixel of one test image
        Image.fromarray(arr).save(image)
        rc, out = _verify(capsys, str(folder))
    finally:
        image.write_bytes(before)
    assert rc == 2, out
    assert "data changed" in out
    assert "re-training" not in out  # refused before any training


@pytest.mark.slow
def test_incomplete_record_cannot_verify(run_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _copy(run_folder, tmp_path)
    _edit_json(folder / "trials" / "0000" / "record.json", lambda r: r.pop("seed"))
    rc, out = _verify(capsys, str(folder))
    assert rc == 2 and "record incomplete" in out and "'seed'" in out, out
    (folder / "run.json").unlink()
    rc, out = _verify(capsys, str(folder))
    assert rc == 2 and "record incomplete" in out and "run.json is missing" in out, out


@pytest.mark.slow
def test_package_versions_differ_named_then_tolerance(run_folder: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import tensorflow as tf

    folder = _copy(run_folder, tmp_path)
    _edit_json(folder / "trials" / "0000" / "record.json", lambda r: r["environment"].update(tensorflow="2.0.0", numpy="1.0.0"))
    rc, out = _verify(capsys, str(folder))
    assert rc == 2, out
    assert "package versions differ" in out
    assert f"TensorFlow 2.0.0 (recorded) vs {tf.__version__} (here)" in out and "NumPy 1.0.0 (recorded)" in out
    assert "re-training" not in out
    rc, out = _verify(capsys, str(folder), "--tolerance", "1e-4")
    assert rc == 0, out
    assert "within 0.0001" in out and "package versions differ" in out  # said as a note


@pytest.mark.slow
def test_nondeterministic_run_needs_a_tolerance(run_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from ferbench.plan import spec_hash

    folder = _copy(run_folder, tmp_path)
    spec = yaml.safe_load((folder / "spec.resolved.yaml").read_text())
    spec["runtime"]["deterministic"] = False
    (folder / "spec.resolved.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    rc, out = _verify(capsys, str(folder))
    assert rc == 2 and "does not hash" in out, out  # an edited spec is refused as such
    _edit_json(folder / "run.json", lambda r: r.update(spec_hash=spec_hash(spec)))
    rc, out = _verify(capsys, str(folder))
    assert rc == 2 and "not deterministic" in out and "--tolerance" in out, out
