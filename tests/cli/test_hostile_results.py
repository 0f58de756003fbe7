"""Hostile input to the commands that read results, models and storages: one line naming the file, exit 2.

``report`` and ``verify`` × every class of broken results folder, and the one-off
cases of ``run``, ``evaluate`` and ``worker``. Commands run in-process through the
public entry point, so an exception escaping it fails the test with its traceback.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ferbench.cli.main import main

REPO = Path(__file__).resolve().parents[2]
#: A report fixture (made up, with predictions) and a real recorded run (verify re-trains it).
FIXTURE = REPO / "tests" / "fixtures" / "results" / "scaled_fer2013"
REFERENCE = REPO / "results" / "reference" / "ref_tiny_search"


def _run_folder(tmp_path: Path, source: Path = FIXTURE) -> Path:
    shutil.copytree(source, tmp_path / "results" / source.name)
    [folder] = [p.parent for p in (tmp_path / "results" / source.name).glob("*/run.json")]
    return folder


def _best(folder: Path) -> Path:
    return folder / "trials" / f"{json.loads((folder / 'run.json').read_text())['best_trial']:04d}"


def _empty_predictions(folder: Path) -> Path:
    target = _best(folder) / "predictions.npz"
    np.savez(target, validation_y_true=np.zeros(0, np.int64), validation_y_prob=np.zeros((0, 7), np.float32),
             test_y_true=np.zeros(0, np.int64), test_y_prob=np.zeros((0, 7), np.float32))
    return target


def _record_is_a_folder(folder: Path) -> Path:
    target = _best(folder) / "record.json"
    target.unlink()
    target.mkdir()
    return target


def _record_truncated(folder: Path) -> Path:
    target = _best(folder) / "record.json"
    target.write_text(target.read_text()[:50])
    return target


def _run_json_binary(folder: Path) -> Path:
    target = folder / "run.json"
    target.write_bytes(bytes(range(256)))
    return target


def _run_json_a_list(folder: Path) -> Path:
    target = folder / "run.json"
    target.write_text("[1, 2]")
    return target


def _predictions_garbage(folder: Path) -> Path:
    target = _best(folder) / "predictions.npz"
    target.write_bytes(b"PK\x03\x04 not really a zip")
    return target


#: Classes of broken results folders: each breaks a copy and returns the file it broke.
BROKEN: dict[str, Callable[[Path], Path]] = {
    "predictions.npz with zero-length arrays": _empty_predictions,
    "record.json is a folder": _record_is_a_folder,
    "record.json truncated": _record_truncated,
    "run.json not UTF-8": _run_json_binary,
    "run.json not an object": _run_json_a_list,
    "predictions.npz not a zip": _predictions_garbage,
}


def _one_line(capfd: pytest.CaptureFixture[str], rc: int, named: str) -> str:
    out, err = capfd.readouterr()
    text = out + err
    assert rc == 2, text
    assert "Traceback" not in text, text
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and named in lines[0], err
    return lines[0]


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_report_on_a_broken_folder(kind: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    folder = _run_folder(tmp_path)
    broken = BROKEN[kind](folder)
    rc = main(["report", str(folder), "--compare", "--no-plots"])
    _one_line(capfd, rc, broken.name)


@pytest.mark.parametrize("kind", sorted(k for k in BROKEN if "predictions" not in k))
def test_verify_on_a_broken_folder(kind: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    folder = _run_folder(tmp_path, REFERENCE)
    broken = BROKEN[kind](folder)
    rc = main(["verify", str(folder)])
    _one_line(capfd, rc, broken.name)


def _tiny_spec(tmp_path: Path, results: str) -> Path:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(f"ferbench: 1\nname: tiny\nresults: {results}\ndataset: {{kind: synthetic, image_size: 32}}\n"
                    "model: {stages: [0, 1], width: 0.1, depth: 0.1, top_filters: 8}\ntrain: {max_epochs: 1}\n"
                    "runtime: {devices: cpu}\n")
    return spec


def test_run_with_results_under_a_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("x")
    rc = main(["run", str(_tiny_spec(tmp_path, str(tmp_path / "afile" / "results")))])
    line = _one_line(capfd, rc, "afile")
    assert "results" in line


def test_evaluate_a_file_that_is_not_a_model(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    spec = _tiny_spec(tmp_path, str(tmp_path / "results"))
    for name, content in (("model.keras", b"not a zip"), ("notes.txt", b"hello")):
        (tmp_path / name).write_bytes(content)
        rc = main(["evaluate", str(tmp_path / name), "--spec", str(spec)])
        _one_line(capfd, rc, name)


def test_evaluate_a_model_keras_safe_mode_refuses(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from ferbench._lazy import require

    keras = require("keras")
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Lambda(lambda t: t / 255.0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x)))
    model.save(tmp_path / "lambda.keras")
    capfd.readouterr()  # what building the model printed is not the command's output
    rc = main(["evaluate", str(tmp_path / "lambda.keras"), "--spec", str(_tiny_spec(tmp_path, str(tmp_path / "results")))])
    line = _one_line(capfd, rc, "lambda.keras")
    assert "safe mode" in line


def test_worker_does_not_create_a_storage_without_create(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("optuna")
    spec = _tiny_spec(tmp_path, str(tmp_path / "results"))
    db = tmp_path / "new.db"
    rc = main(["worker", str(spec), "--storage", f"sqlite:///{db}"])
    _one_line(capfd, rc, "new.db")
    assert not db.exists()


def test_evaluate_out_a_training_run_folder_is_refused(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    run = _run_folder(tmp_path)
    model = tmp_path / "m.keras"
    model.write_bytes(b"not read: the folder is refused first")
    before = sorted(str(p) for p in run.rglob("*"))
    line = _one_line(capfd, main(["evaluate", str(model), "--out", str(run)]), str(run))
    assert "training run" in line
    assert sorted(str(p) for p in run.rglob("*")) == before


def test_a_truncated_model_file_is_called_corrupt_not_missing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A .keras archive cut short (a full disk, a copy stopped half-way): Keras says "File not found"; we say corrupt.

    ``ferbench export`` checks its models with the same function (``results.read.check_keras_archive``).
    """
    import zipfile

    spec = _tiny_spec(tmp_path, str(tmp_path / "results"))
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w") as z:
        z.writestr("config.json", "{}" * 5000)
    cut = tmp_path / "model.keras"
    cut.write_bytes(whole.read_bytes()[:-30])
    line = _one_line(capfd, main(["evaluate", str(cut), "--spec", str(spec)]), str(cut))
    assert "corrupt" in line and "not found" not in line.lower()


@pytest.mark.slow
def test_evaluate_out_on_a_full_disk_leaves_no_folder_and_the_retry_finishes(tmp_path: Path, small_disk: Path,
                                                                            fill_disk: Callable[[Path], None],
                                                                            capfd: pytest.CaptureFixture[str]) -> None:
    """Before: a half-written --out folder that evaluate, report and collect all refused until deleted by hand."""
    from ferbench._lazy import require

    keras = require("keras")  # quietly: TensorFlow's start-up lines held back
    spec = _tiny_spec(tmp_path, str(tmp_path / "results"))
    model = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(7, activation="softmax")])
    model.save(tmp_path / "m.keras")
    out = small_disk / "eval"
    fill_disk(small_disk)
    capfd.readouterr()
    rc = main(["evaluate", str(tmp_path / "m.keras"), "--spec", str(spec), "--out", str(out)])
    line = _one_line(capfd, rc, str(out))
    assert "No space left on device" in line
    assert [p.name for p in small_disk.iterdir()] == [".filler"]  # nothing half-written
    (small_disk / ".filler").unlink()
    assert main(["evaluate", str(tmp_path / "m.keras"), "--spec", str(spec), "--out", str(out)]) == 0
    assert main(["report", str(out), "--no-plots"]) == 0
