"""The degenerate-model guard (``ferbench.results.health``): its flags from a validation confusion matrix and a
training-mode check, the record's ``health`` block, and records written before it judged all the same."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from ferbench.results import Cost, SplitMetrics, Timings, TrialRecord, record_problems
from ferbench.results.health import GAP, Health, TrainCheck, assess, trial_health
from ferbench.results.metrics import metrics_block

CLASSES = ("angry", "happy", "sad")
REPO = Path(__file__).resolve().parents[2]


def _confusion(y: np.ndarray, pred: np.ndarray, k: int = 3) -> list[list[int]]:
    cm = np.zeros((k, k), int)
    np.add.at(cm, (y, pred), 1)
    return cm.tolist()


def test_one_class_and_majority_flags_from_the_confusion_matrix() -> None:
    y = np.array([1] * 50 + [0] * 30 + [2] * 20)
    everything_happy = assess(_confusion(y, np.ones(100, int)), CLASSES)
    assert everything_happy is not None
    assert everything_happy.flags == ("one_class", "majority")
    assert (everything_happy.top_class, everything_happy.top_share) == ("happy", 1.0)
    assert (everything_happy.majority_class, everything_happy.majority_rate, everything_happy.accuracy) == ("happy", 0.5, 0.5)
    assert "100% of validation predictions are happy" in everything_happy.message()
    assert "no better than always predicting happy (0.500)" in everything_happy.message()

    # 91 of 100 in one class is over the 90% line even when some are right
    pred = np.where(np.arange(100) < 91, 1, y)
    assert "one_class" in assess(_confusion(y, pred), CLASSES).flags  # type: ignore[union-attr]

    # spread predictions, accuracy 0.5 exactly: no better than the majority rate
    pred = np.array([1] * 10 + [0] * 40 + [0] * 20 + [2] * 10 + [2] * 20)  # 10 + 20 + 20 right
    h = assess(_confusion(y, pred), CLASSES)
    assert h is not None and h.flags == ("majority",) and h.accuracy == 0.5


def test_a_healthy_model_has_no_flag() -> None:
    y = np.array([1] * 50 + [0] * 30 + [2] * 20)
    pred = y.copy()
    pred[:20] = 0  # 80% right, predictions spread
    h = assess(_confusion(y, pred), CLASSES, TrainCheck(512, 0.70, 0.68))
    assert h is not None and h.healthy and h.flags == () and h.message() == ""
    assert h.accuracy == 0.8


def test_train_inference_gap() -> None:
    y = np.array([0, 1, 2] * 20)
    fine = _confusion(y, y)
    assert assess(fine, CLASSES, TrainCheck(512, 0.60, 0.60 - GAP + 0.01)).healthy  # type: ignore[union-attr]
    h = assess(fine, CLASSES, TrainCheck(512, 0.47, 0.25))
    assert h is not None and h.flags == ("train_inference_gap",)
    assert "training mode scores 0.470 but inference mode 0.250 on the same 512 training images" in h.message()


def test_empty_confusion_has_no_verdict() -> None:
    assert assess([[0, 0], [0, 0]], ("a", "b")) is None


def _record(health: Health | None) -> TrialRecord:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    p = np.zeros((60, 3), np.float32)
    p[:, 1] = 1.0  # always "happy"
    m = SplitMetrics.from_dict(metrics_block(y, p, CLASSES))
    hp = {"width": None, "depth": None, "dropout": None, "top_filters": None, "drop_connect": None, "learning_rate": 0.001,
          "batch_size": 16, "label_smoothing": 0.0, "bn_momentum": 0.9}
    return TrialRecord(run_id="0123456789ab", trial=0, state="complete", error=None, params={}, hyperparameters=hp, cost=Cost(10, 20),
                       epochs=1, best_epoch=1, objective=1.0, history={"loss": (1.0,)}, class_weight=None, timings=Timings(1.0, 0.1, (1.0,)),
                       seed=1, started="2026-01-01T00:00:00Z", finished="2026-01-01T00:00:02Z", validation=m, test=m, health=health)


def test_health_block_validates_and_round_trips() -> None:
    rec = _record(None)
    assert rec.validation is not None
    h = assess(rec.validation.confusion, CLASSES, TrainCheck(256, 0.5, 0.2))
    assert h is not None and set(h.flags) == {"one_class", "train_inference_gap"} | ({"majority"} if h.accuracy <= h.majority_rate else set())
    d = dataclasses.replace(rec, health=h).to_dict()
    assert record_problems(d) == []
    json.dumps(d, allow_nan=False)
    back = TrialRecord.from_dict(d)
    assert back.health == Health.from_dict(d["health"]) and back.to_dict() == d
    assert d["health"]["train_check"] == {"images": 256, "train_accuracy": 0.5, "inference_accuracy": 0.2}


def test_a_record_without_health_is_judged_from_its_validation_predictions() -> None:
    old = _record(None)
    assert "health" not in old.to_dict()
    h = trial_health(old, CLASSES)
    assert h is not None and "one_class" in h.flags and h.check is None


def test_committed_records_are_judged() -> None:
    """Records written before the guard existed: every complete one gets a verdict (the reference tiny runs are healthy or not,
    but they are judged, from their confusion matrices)."""
    files = sorted((REPO / "results" / "reference").glob("*/*/trials/*/record.json"))
    judged = [trial_health(TrialRecord.from_dict(json.loads(f.read_text()))) for f in files]
    assert files and all(j is not None for j, f in zip(judged, files) if '"metrics"' in f.read_text())
