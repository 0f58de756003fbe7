"""What a dataset knows of its test images reaches the record and the report, end to end on two
tiny trained models: FER+ vote distributions (soft-label NLL and ECE), RAF-DB's own gender, race
and age (fairness tables without an attributes file), and a list file of image names narrowing an
extra test set (``evaluate.on[].images``)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("optuna")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from data_helpers import small_fer, write_fer_csv  # noqa: E402
from release_writers import write_rafdb  # noqa: E402
from test_ferplus import votes_file  # noqa: E402
from test_report_fairness import _by_hand  # noqa: E402

from ferbench.report.api import write_report  # noqa: E402
from ferbench.results import load_run  # noqa: E402

pytestmark = pytest.mark.slow

TINY = """\
model: {{stages: [0, 1], width: 0.1, depth: 0.1, dropout: 0.0, top_filters: 16}}
train: {{learning_rate: 0.003, batch_size: 8, max_epochs: 1, early_stopping: null}}
search: {{trials: 1}}
runtime: {{devices: cpu, workers: 1}}
"""

FERPLUS = """\
ferbench: 1
name: fp_soft
seed: 2
results: {results}
dataset:
  kind: fer2013
  path: {data}
  labels: fer2013new.csv
  image_size: 16
  cache: {cache}
  classes: [happy, sad]
  splits: {{train: Training, validation: PublicTest, test: PrivateTest}}
""" + TINY

RAFDB = """\
ferbench: 1
name: raf_groups
seed: 1
results: {results}
dataset: {{kind: rafdb, path: {data}, image_size: 16, cache: {cache}}}
evaluate:
  on:
    - {{name: listed, dataset: {{kind: rafdb, path: {data}, image_size: 16, cache: {cache}}}, split: test, images: {images}}}
""" + TINY


def _run(tmp_path: Path, text: str, **fields: object) -> Path:
    from ferbench.run.progress import PlainReporter
    from ferbench.run.runner import run_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text(text.format(results=tmp_path / "results", cache=tmp_path / "cache", **fields), encoding="utf-8")
    (result,) = run_spec(spec, reporter=PlainReporter(io.StringIO()))
    assert result.status == "complete", result.folder
    return Path(result.folder)


def _report(folder: Path, out: Path) -> dict:  # type: ignore[type-arg]
    write_report([folder], fmt="json", out=out, plots=False)
    (data,) = json.loads(out.read_text(encoding="utf-8"))["runs"]
    return data  # type: ignore[no-any-return]


def test_ferplus_votes_give_soft_label_nll_and_ece_in_record_and_report(tmp_path: Path) -> None:
    rows, _, _ = small_fer(np.random.default_rng(3), {"Training": 24, "PublicTest": 8, "PrivateTest": 8})
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    rng = np.random.default_rng(4)
    votes = []
    for _ in range(40):
        happy = int(rng.choice([1, 2, 3, 7, 8, 9]))  # always a majority: happy or sad
        votes.append([0, happy, 0, 10 - happy, 0, 0, 0, 0, 0, 0])
    votes_file(tmp_path / "fer2013new.csv", [r[2] for r in rows], votes)
    folder = _run(tmp_path, FERPLUS, data=tmp_path)
    run = load_run(folder)
    assert run.best is not None
    pred = run.predictions(run.best)
    q = np.array([[v[1], v[3]] for v in votes[32:]], np.float64) / 10  # the PrivateTest faces' happy and sad shares
    assert np.allclose(pred.votes("test"), q, atol=1e-6)
    assert pred.images("test").tolist() == [f"PrivateTest/{r}" for r in range(32, 40)]
    p = np.asarray(pred.test_y_prob, np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    record = json.loads((folder / "trials" / "0000" / "record.json").read_text(encoding="utf-8"))["metrics"]["test"]
    assert record["soft_nll"] == pytest.approx(float(np.mean(-(q * np.log(np.clip(p, 1e-7, 1))).sum(axis=1))), rel=1e-5)
    hit = q[np.arange(len(q)), p.argmax(axis=1)]
    conf = np.asarray(pred.test_y_prob, np.float64).max(axis=1)
    bins = np.ceil(conf * 15).astype(int)  # (m-1)/15 < conf <= m/15
    ece = sum((bins == b).mean() * abs(hit[bins == b].mean() - conf[bins == b].mean()) for b in set(bins.tolist()))
    assert record["soft_ece"] == pytest.approx(ece, abs=1e-6)
    data = _report(folder, tmp_path / "r.json")
    assert data["soft_labels"]["test"]["soft_nll"] == pytest.approx(record["soft_nll"], rel=1e-9)
    assert data["soft_labels"]["test"]["soft_ece"] == pytest.approx(record["soft_ece"], abs=1e-12)
    write_report([folder], fmt="markdown", out=tmp_path / "r.md", plots=False)
    assert "Soft labels: NLL and ECE against the FER+ vote distributions" in (tmp_path / "r.md").read_text(encoding="utf-8")


PER_CLASS = {"surprise": (8, 4), "fear": (8, 4), "disgust": (8, 4), "happy": (8, 5), "sad": (8, 4), "angry": (8, 4), "neutral": (8, 5)}


def test_rafdb_own_attributes_give_fairness_tables_and_a_list_narrows_a_test_set(tmp_path: Path) -> None:
    from ferbench.data.layouts.rafdb import listing
    from ferbench.spec import load_spec

    write_rafdb(tmp_path / "raf", PER_CLASS)
    listed = ["test_0003.jpg", "test_0011", "test_0020.jpg", "test_0027.jpg 5", "test_0030"]  # names, stems, a label column
    (tmp_path / "occluded.txt").write_text("\n".join(listed) + "\n", encoding="utf-8")
    folder = _run(tmp_path, RAFDB, data=tmp_path / "raf", images=tmp_path / "occluded.txt")
    run = load_run(folder)
    assert run.best is not None
    pred = run.predictions(run.best)
    names = pred.images("test").tolist()
    assert names == [f"test_{i:04d}.jpg" for i in range(1, 31)]

    # The attributes, as the RAF-DB layout reads them, by image name.
    spec = load_spec(folder / "spec.resolved.yaml")
    release = listing(tmp_path / "raf", spec.dataset)
    assert release is not None
    own = {f.name: f.attributes for f in release.faces}
    y, p = pred.test_y_true.tolist(), pred.y_pred("test").tolist()
    data = _report(folder, tmp_path / "r.json")  # no attributes file
    got = {f["attribute"]: f for f in data["fairness"]}
    assert set(got) == {"gender", "race", "age"}
    for attr, f in got.items():
        values = [own[n][attr] for n in names]
        assert [g["group"] for g in f["groups"]] == sorted(set(values))
        for g in f["groups"]:
            h = _by_hand([a for a, v in zip(y, values, strict=True) if v == g["group"]],
                         [b for b, v in zip(p, values, strict=True) if v == g["group"]], run.num_classes)
            assert (g["n"], g["accuracy"], g["f1_macro"]) == (h["n"], pytest.approx(h["accuracy"]), pytest.approx(h["f1_macro"]))
        accs = {g["group"]: g["accuracy"] for g in f["groups"]}
        assert f["accuracy_gap"] == pytest.approx(max(accs.values()) - min(accs.values()))
    write_report([folder], fmt="markdown", out=tmp_path / "r.md", plots=False)
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert all(f"Fairness across {attr} (test)" in text for attr in ("gender", "race", "age"))

    # evaluate.on with images: only the five listed test faces are scored, with their own labels.
    record = json.loads((folder / "trials" / "0000" / "record.json").read_text(encoding="utf-8"))
    assert record["metrics"]["cross"]["listed"]["n"] == 5
    picked = [names.index(f"test_{i:04d}.jpg") for i in (3, 11, 20, 27, 30)]
    cross = pred.cross("listed")
    assert cross is not None and cross[0].tolist() == [y[i] for i in picked]
    info = json.loads((folder / "run.json").read_text(encoding="utf-8"))["dataset"]["cross"]["listed"]
    assert info["size"] == 5 and info["list"]["listed"] == 5 and info["split"] == "test[occluded.txt: 5 images]"
