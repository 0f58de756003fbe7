"""``ferbench predict`` on a run trained on real FER2013 images (a small slice of the Kaggle CSV).

The run's test split is the slice's PrivateTest rows; written out as PNG files and
given to ``ferbench predict``, they must get, image by image, the probabilities the
run's record holds (the Keras model of the run folder), and through the run's
exported TFLite file the same within the tolerance its export record holds. An unreadable file
among the inputs is reported and skipped; only no readable input at all is exit 2.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("optuna")

from PIL import Image  # noqa: E402

from ferbench.cli.main import main  # noqa: E402
from ferbench.export.formats import FORMAT_TABLE  # noqa: E402

pytestmark = pytest.mark.slow

SPEC = """\
ferbench: 1
name: fer_slice
seed: 3
results: {results}
dataset:
  kind: fer2013
  path: {csv}
  image_size: 48
  cache: {cache}
  splits: {{train: Training, validation: PublicTest, test: PrivateTest}}
model: {{stages: [0, 1, 2], depth: 0.25, dropout: 0.1, top_filters: 32}}
train: {{learning_rate: 0.004, batch_size: 16, max_epochs: 1, early_stopping: null}}
search:
  trials: 1
  space:
    width: {{float: [0.1, 0.25], step: 0.05}}
runtime: {{devices: cpu}}
"""
PER_CLASS = {"Training": 8, "PublicTest": 3, "PrivateTest": 4}


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(list(args))
    return rc, out.getvalue(), err.getvalue()


def _slice(source: Path, target: Path) -> list[tuple[int, np.ndarray]]:
    """A few rows per class and usage of the real CSV; returns the PrivateTest rows (label, image) in order."""
    taken: dict[tuple[str, str], int] = {}
    lines, private = ["emotion,pixels,Usage\n"], []
    with gzip.open(source, "rt") as fh:
        next(fh)
        for line in fh:
            emotion, rest = line.split(",", 1)
            usage = rest.rstrip().rsplit(",", 1)[1]
            key = (usage, emotion)
            if taken.get(key, 0) >= PER_CLASS[usage]:
                continue
            taken[key] = taken.get(key, 0) + 1
            lines.append(line)
            if usage == "PrivateTest":
                pixels = rest.rstrip().rsplit(",", 1)[0]
                private.append((int(emotion), np.asarray(pixels.split(), np.uint8).reshape(48, 48)))
    target.write_text("".join(lines))
    return private


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, fer2013_dir: Path):
    root = tmp_path_factory.mktemp("predict")
    private = _slice(fer2013_dir / "fer2013.csv.gz", root / "slice.csv")
    spec = root / "spec.yaml"
    spec.write_text(SPEC.format(results=root / "results", csv=root / "slice.csv", cache=root / "cache"))
    rc, out, err = _cli("run", str(spec))
    assert rc == 0, err
    [folder] = [p.parent for p in (root / "results").rglob("run.json")]
    rc, _, err = _cli("export", str(folder), "--format", "tflite")
    assert rc == 0, err
    pngs = root / "pngs"
    pngs.mkdir()
    for i, (_, img) in enumerate(private):
        Image.fromarray(img).save(pngs / f"{i:04d}.png")
    return folder, pngs, private


def _predict_json(*args: str) -> dict:
    rc, out, err = _cli("predict", *args, "--json")
    assert rc == 0, err
    return json.loads(out)


def test_png_files_get_the_probabilities_the_run_record_holds(trained) -> None:
    folder, pngs, private = trained
    doc = _predict_json(str(folder), str(pngs))
    with np.load(folder / "trials" / "0000" / "predictions.npz") as rec:
        y_true, y_prob = rec["test_y_true"], rec["test_y_prob"]
    assert y_true.tolist() == [label for label, _ in private]  # the record's test rows are these images, in order
    assert [Path(i["file"]).name for i in doc["images"]] == [f"{i:04d}.png" for i in range(len(private))]
    got = np.array([[i["faces"][0]["probabilities"][c] for c in doc["classes"]] for i in doc["images"]])
    assert got.shape == y_prob.shape
    np.testing.assert_allclose(got, y_prob, atol=1e-5, rtol=0)
    assert doc["runtime"] == "keras" and doc["input"] == {"size": 48, "color": "grayscale"} and doc["trial"] == 0
    assert all(i["faces"][0]["box"] is None for i in doc["images"])  # no faces stage: the whole image
    again = _predict_json(str(folder), str(pngs / "0001.png"), "--trial", "0")  # the best trial, named
    assert again["images"][0]["faces"][0]["probabilities"] == doc["images"][1]["faces"][0]["probabilities"]


def test_the_exported_tflite_file_answers_within_the_tolerance_its_export_record_holds(trained) -> None:
    folder, pngs, private = trained
    export_dir = folder / "trials" / "0000" / "exports" / "tflite"
    record = json.loads((export_dir / "export.json").read_text())
    tolerance = record["parity"]["tolerance"]  # the format's, as the export recorded it
    assert tolerance == FORMAT_TABLE["tflite"].tolerance and record["parity"]["within_tolerance"]
    [tflite] = list(export_dir.glob("*.tflite"))
    doc = _predict_json(str(tflite), str(pngs / "*.png"))
    assert doc["runtime"] == "tflite" and doc["run"] == str(folder.resolve())  # classes and input from the run
    assert doc["export"] == {"format": "tflite", "tolerance": tolerance, "test_accuracy": record["metrics"]["test"]["accuracy"]}
    got = np.array([[i["faces"][0]["probabilities"][c] for c in doc["classes"]] for i in doc["images"]])
    with np.load(folder / "trials" / "0000" / "predictions.npz") as rec:
        keras = rec["test_y_prob"]
    np.testing.assert_allclose(got, keras, atol=tolerance, rtol=0)  # TFLite against Keras, image by image
    # The predicted class may differ only where Keras's two best classes are closer than the tolerance allows.
    top2 = np.sort(keras, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 2 * tolerance
    assert (got.argmax(axis=1) == keras.argmax(axis=1))[clear].all()
    labels = np.array([label for label, _ in private])
    accuracy = float((got.argmax(axis=1) == labels).mean())
    assert abs(accuracy - record["metrics"]["test"]["accuracy"]) <= (~clear).sum() / len(labels) + 1e-12


def test_an_unreadable_file_is_reported_and_skipped(trained, tmp_path: Path) -> None:
    folder, pngs, _ = trained
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out.csv"
    rc, _, err = _cli("predict", str(folder), str(pngs / "0000.png"), str(broken), str(tmp_path / "absent.jpg"), "--csv", "-o", str(out),
                      "--annotate", str(tmp_path / "drawn"))
    assert rc == 0, err
    assert "skipped 2 input(s)" in err and "broken.png: corrupt or unsupported image" in err and "absent.jpg: file not found" in err
    rows = list(csv.DictReader(out.open()))
    assert [Path(r["file"]).name for r in rows] == ["0000.png"] and rows[0]["class"] in rows[0]
    assert abs(sum(float(rows[0][c]) for c in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")) - 1) < 1e-5
    [drawn] = list((tmp_path / "drawn").iterdir())
    with Image.open(drawn) as im:
        assert im.size == (320, 320)  # 48x48 enlarged so the label can be read
    rc, _, err = _cli("predict", str(folder), str(broken))
    assert rc == 2 and "no input could be read" in err


def test_a_model_trained_on_given_boxes_asks_how_to_find_faces(trained, tmp_path: Path) -> None:
    import shutil

    import yaml

    folder, pngs, _ = trained
    copy = tmp_path / "run"
    shutil.copytree(folder, copy)
    resolved = yaml.safe_load((copy / "spec.resolved.yaml").read_text())
    resolved["dataset"]["faces"] = {"detector": "boxes", "align": "none", "margin": 0.2, "min_size": 24, "on_none": "skip", "on_many": "largest"}
    (copy / "spec.resolved.yaml").write_text(yaml.safe_dump(resolved))
    rc, _, err = _cli("predict", str(copy), str(pngs / "0000.png"))
    assert rc == 2 and "--faces haar or --faces mtcnn" in err and "--faces none" in err
    crops = _predict_json(str(copy), str(pngs / "0000.png"), "--faces", "none")
    assert crops["images"][0]["faces"] == _predict_json(str(folder), str(pngs / "0000.png"))["images"][0]["faces"]
