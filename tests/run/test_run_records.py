"""Records and run.json: the documented format, validated against the schemas."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from ferbench.results import record_problems, run_problems
from ferbench.run.atomic import json_clean
from ferbench.run.metrics import metrics_block
from ferbench.run.records import RunFile, RunPaths, TrialOutcome, history_csv, record_dict, run_dict, utc_now, write_trial

CLASSES = ("angry", "happy", "sad")
HP = {"width": 0.2, "depth": 0.25, "dropout": 0.1, "top_filters": 32, "drop_connect": 0.2,
      "learning_rate": 0.001, "batch_size": 16, "label_smoothing": 0.0}


def _outcome(state: str = "complete") -> TrialOutcome:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 12)
    p = rng.dirichlet(np.ones(3), 12).astype(np.float32)
    m = metrics_block(y, p, CLASSES)
    ok = state == "complete"
    return TrialOutcome(
        number=7, state=state, error=None if ok else "nan loss at epoch 2", params={"width": 0.2}, hyperparameters=HP,
        cost={"params": 1234, "macs": 5678}, history={"loss": [1.0, float("nan")], "val_loss": [1.1, float("nan")], "lr": [1e-3, 1e-3]},
        best_epoch=1 if ok else None, objective=1.1 if ok else None, metrics={"validation": m, "test": m} if ok else None,
        class_weight={"angry": 1.0, "happy": 0.5, "sad": 2.0}, train_s=1.5, eval_s=0.2, epoch_s=[0.7, 0.8], seed=42,
        started=utc_now(), finished=utc_now(),
        predictions={"validation_y_true": y, "validation_y_prob": p, "test_y_true": y, "test_y_prob": p} if ok else None,
    )


@pytest.mark.parametrize("state", ["complete", "failed"])
def test_record_validates(state: str) -> None:
    rec = json_clean(record_dict("0123456789ab", _outcome(state)))
    assert record_problems(rec) == []
    assert ("metrics" in rec) == (state == "complete")
    assert "lr" not in rec["history"]  # lr and seconds live in history.csv


def test_write_trial_folder(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    folder = write_trial(paths, "0123456789ab", _outcome())
    assert folder == tmp_path / "trials" / "0007"
    assert sorted(p.name for p in folder.iterdir()) == ["history.csv", "predictions.npz", "record.json"]
    rec = json.loads((folder / "record.json").read_text())
    assert rec["history"]["loss"] == [1.0, None]
    with np.load(folder / "predictions.npz") as z:
        assert set(z.files) == {"validation_y_true", "validation_y_prob", "test_y_true", "test_y_prob"}


def test_history_csv_columns() -> None:
    text = history_csv({"loss": [1.0, 0.5], "accuracy": [0.1, 0.2], "val_loss": [1.2, 0.9], "val_accuracy": [0.1, 0.3],
                        "lr": [1e-3, 1e-3], "val_f1_macro": [0.05, 0.1]}, [2.0, 1.0])
    lines = text.splitlines()
    assert lines[0] == "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds,val_f1_macro"
    assert lines[1].startswith("1,1.0,0.1,1.2,0.1,0.001,2.0,")


def _run(**kw):
    base = dict(run_id="0123456789ab", spec_name="tiny", spec_hash="a" * 64, matrix_cell={}, seed=3, metric="val_loss",
                direction="minimize", target=3,
                dataset={"kind": "synthetic", "source": "synthetic", "fingerprint": "f" * 64, "classes": list(CLASSES),
                         "image_size": 32, "color": "grayscale", "sizes": {"train": 1, "validation": 1, "test": 1},
                         "splits": {"train": "train", "validation": "validation", "test": "test"}, "class_weight": None},
                environment={"python": "3", "ferbench": "0", "tensorflow": None, "keras": None, "optuna": None, "numpy": None,
                             "git_commit": None, "host": "h", "platform": "p", "cpu": "c", "gpus": []},
                devices=["cpu"], storage="sqlite:///x")
    base.update(kw)
    return run_dict(**base)


def test_run_json_validates_and_sums_wall_time(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    f = RunFile.open(path, _run())
    time.sleep(0.05)
    f.save()
    first = json.loads(path.read_text())
    assert run_problems(first) == []
    g = RunFile.open(path, _run())  # a restart: keeps created, adds to the wall time
    time.sleep(0.05)
    g.save()
    second = json.loads(path.read_text())
    assert second["created"] == first["created"]
    assert second["wall_time_s"] >= first["wall_time_s"] + 0.04
