"""A class-folder dataset of photos (generated scenes around real FER2013 faces) trains with ``dataset.faces``.

``data describe`` counts the images with one face, none and several per split and
class; a run at another input size trains on new crops made from the cached
detections (the detector is never called again); ``ferbench predict`` uses the run's stage.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from scenes import FER2013_CLASSES, empty_scene, fer_faces, scene

pytest.importorskip("cv2", reason="the face detectors are the [faces] extra: pip install -e '.[faces]'")
pytest.importorskip("tensorflow")
pytest.importorskip("optuna")

from ferbench.cli.main import main  # noqa: E402
from ferbench.faces.detect import HaarDetector  # noqa: E402

pytestmark = pytest.mark.slow

CLASSES = ("happy", "sad", "surprise")
SPEC = """\
ferbench: 1
name: {name}
seed: {seed}
results: {root}/results
dataset:
  kind: folder
  path: {root}/photos
  image_size: 32
  classes: [happy, sad, surprise]
  cache: {root}/cache
  faces: {{detector: haar, margin: 0.1, on_none: skip, on_many: largest}}
model: {{stages: [0, 1, 2], depth: 0.25, width: 0.25, dropout: 0.1, top_filters: 16}}
train: {{learning_rate: 0.004, batch_size: 8, max_epochs: 1, early_stopping: null}}
search: {{trials: 1}}
runtime: {{devices: cpu}}
"""


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(list(args))
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory, fer2013_dir: Path) -> Path:
    """train/<class>/ with 6 scenes and test/<class>/ with 3, one face each; one train scene of happy holds two faces, one none."""
    root = tmp_path_factory.mktemp("photos")
    faces = fer_faces(fer2013_dir / "fer2013.csv.gz", 120)
    by_class = {c: [f for f in faces if FER2013_CLASSES[f[0]] == c] for c in CLASSES}
    rng = np.random.default_rng(11)
    for c, fs in by_class.items():
        assert len(fs) >= 10, c
        for split, chosen in (("train", fs[:6]), ("test", fs[6:9])):
            folder = root / "photos" / split / c
            folder.mkdir(parents=True)
            for i, face in enumerate(chosen):
                scene([face], rng, size=(200, 160)).image.save(folder / f"{i}.jpg", quality=95)
    scene(by_class["happy"][9:11], rng, size=(300, 160)).image.save(root / "photos" / "train" / "happy" / "two.jpg", quality=95)
    empty_scene(rng, (200, 160)).save(root / "photos" / "train" / "happy" / "nobody.png")
    return root


def _write(root: Path, name: str, seed: int, size: int = 32) -> Path:
    spec = root / f"{name}.yaml"
    spec.write_text(SPEC.format(name=name, seed=seed, root=root).replace("image_size: 32", f"image_size: {size}"))
    return spec


def test_describe_counts_faces_then_a_run_trains_without_detecting_again(photos: Path, monkeypatch) -> None:
    calls = []
    original = HaarDetector.detect

    def counting(self, rgb):
        calls.append(rgb.shape)
        return original(self, rgb)

    def refuse(self, rgb):
        raise AssertionError("detected again")

    monkeypatch.setattr(HaarDetector, "detect", counting)
    rc, out, err = _cli("data", "describe", str(_write(photos, "faces_a", 1)), "--json")
    assert rc == 0, err
    report = json.loads(out)
    assert len(calls) == 29  # every photo once
    faces = report["faces"]
    assert faces["train"]["happy"]["images"] == 8 and faces["train"]["happy"]["none"] >= 1 and faces["train"]["happy"]["several"] >= 1
    assert sum(c["images"] for split in faces.values() for c in split.values()) == 29
    found = sum(c["one"] + c["several"] for split in faces.values() for c in split.values())
    total = sum(s["total"] for s in report["splits"].values())
    assert total == found >= 22  # on_none: skip; on_many: largest -- one crop per photo with a face
    assert report["splits"]["train"]["shape"] == [32, 32, 1]

    # A run at another input size: new crops (a data-cache miss), made from the cached detections.
    monkeypatch.setattr(HaarDetector, "detect", refuse)
    rc, out, err = _cli("run", str(_write(photos, "faces_b", 2, size=40)))
    assert rc == 0, err
    [run_json] = list((photos / "results" / "faces_b").rglob("run.json"))
    assert json.loads(run_json.read_text())["status"] == "complete"
    resolved = (run_json.parent / "spec.resolved.yaml").read_text()
    assert "faces:" in resolved and "detector: haar" in resolved and "align: none" in resolved  # the stage is recorded
    rc, out, err = _cli("data", "describe", str(_write(photos, "faces_a", 1)))  # the same crops again: the data cache
    assert rc == 0, err
    assert "no face" in out and "several" in out and "train/happy" in out

    # predict takes the run's own faces stage (haar, its margin) and input (40x40 grayscale)
    monkeypatch.setattr(HaarDetector, "detect", counting)
    rc, out, err = _cli("predict", str(run_json.parent), str(photos / "photos" / "test"), "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["input"] == {"size": 40, "color": "grayscale"} and doc["classes"] == list(CLASSES) and len(doc["images"]) == 9
    boxes = [f["box"] for i in doc["images"] for f in i["faces"]]
    assert len(boxes) >= 7 and all(b is not None and b[2] >= 24 for b in boxes)
    assert len(calls) == 29 + 9
