"""FER+ vote distributions of the validation and test faces: loaded with the data (row for row),
saved with the predictions a model is scored on, and the records' soft-label NLL and ECE computed
against them. On a small generated case and on the real FER+ votes (skipped where absent)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from data_helpers import small_fer, write_fer_csv
from test_ferplus import votes_file

from ferbench.data import load_dataset
from ferbench.data.classes import FERPLUS_COLUMNS
from ferbench.spec.types import EvaluateSpec, LossSpec

#        neu hap sur sad ang dis fea con unk NF
VOTES = [
    [0, 8, 0, 1, 0, 0, 0, 0, 1, 0],   # happy 8 of 9 emotion votes, sad 1 (a single vote counts in the distribution)
    [0, 6, 0, 4, 0, 0, 0, 0, 0, 0],   # happy 0.6, sad 0.4
    [0, 2, 0, 7, 0, 0, 0, 1, 0, 0],   # sad; contempt is not a class of the run: left out
    [1, 0, 0, 9, 0, 0, 0, 0, 0, 0],   # sad; neutral is not a class either
]


def _independent_soft_nll(q: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean([-sum(qk * np.log(max(pk, 1e-7)) for qk, pk in zip(qr, pr)) for qr, pr in zip(q, p)]))


def _independent_soft_ece(q: np.ndarray, p: np.ndarray, bins: int = 15) -> float:
    conf, pred = p.max(axis=1), p.argmax(axis=1)
    hit = q[np.arange(len(q)), pred]
    total = 0.0
    for b in range(bins):
        inside = (conf > b / bins) & (conf <= (b + 1) / bins)
        if inside.any():
            total += inside.mean() * abs(hit[inside].mean() - conf[inside].mean())
    return total


def _score(loaded, prob_of):
    """Score a fixed predictor (no model: probabilities from the labels) as a trial does, through its one scorer."""
    from ferbench.run.train.scoring import score_model
    from ferbench.run.train.setup import RunData

    data = RunData.from_loaded(loaded, LossSpec("none", 0.999, None))
    return score_model(lambda x: prob_of(len(x)), data, EvaluateSpec(calibrate="temperature"))


def test_generated_votes_travel_to_the_predictions_and_the_record(tmp_path, make_spec):
    rows, _, _ = small_fer(np.random.default_rng(0), {"Training": 8, "PublicTest": 4, "PrivateTest": 4})
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    votes = [[0, 10, 0, 0, 0, 0, 0, 0, 0, 0]] * 8 + [[0, 0, 0, 10, 0, 0, 0, 0, 0, 0]] * 4 + VOTES
    votes[1] = votes[2] = [0, 0, 0, 10, 0, 0, 0, 0, 0, 0]  # train has both classes
    votes_file(tmp_path / "fer2013new.csv", [r[2] for r in rows], votes)
    spec = make_spec(kind="fer2013", path=tmp_path, labels="fer2013new.csv", classes=("happy", "sad"),
                     splits=("Training", "PublicTest", "PrivateTest"))
    loaded = load_dataset(spec, progress=False)
    expected = np.array([[8 / 9, 1 / 9], [0.6, 0.4], [2 / 9, 7 / 9], [0.0, 1.0]])
    assert np.allclose(loaded.votes["test"], expected, atol=1e-6)
    assert loaded.splits["test"].y.tolist() == [0, 0, 1, 1]  # the majority labels, as before
    assert np.allclose(loaded.votes["validation"], [[0, 1]] * 4)
    assert loaded.splits["test"].images.tolist() == [f"PrivateTest/{r}" for r in range(12, 16)]

    prob = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.55, 0.45]], np.float32)
    scored = _score(loaded, lambda n: prob if n == 4 else np.tile([[0.5, 0.5]], (n, 1)).astype(np.float32))
    saved = scored.predictions
    assert np.allclose(saved.votes("test"), expected) and saved.images("test").tolist() == loaded.splits["test"].images.tolist()
    t = scored.test
    assert t.soft_nll == pytest.approx(_independent_soft_nll(expected, prob), abs=1e-6)
    assert t.soft_ece == pytest.approx(_independent_soft_ece(expected, prob), abs=1e-6)
    # By hand: confidences 0.9, 0.7, 0.8, 0.55 sit in four bins; vote shares of the predicted class 8/9, 0.4, 7/9, 0.
    assert t.soft_ece == pytest.approx((abs(8 / 9 - 0.9) + abs(0.4 - 0.7) + abs(7 / 9 - 0.8) + abs(0.0 - 0.55)) / 4, abs=1e-6)
    assert t.to_dict()["soft_nll"] == t.soft_nll and "soft_ece" in t.to_dict()
    assert scored.calibration is not None and scored.calibration.test.soft_nll is not None


def test_real_ferplus_votes_are_the_files_row_for_row(make_spec, fer2013_dir, fer_cache):
    votes_path = fer2013_dir / "fer2013new.csv"
    if not votes_path.exists():
        pytest.skip(f"FER+ votes not found at {votes_path}")
    classes = ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt")
    spec = make_spec(kind="fer2013", path=fer2013_dir, labels=str(votes_path), classes=classes, cache=str(fer_cache),
                     splits=("Training", "PublicTest", "PrivateTest"))
    loaded = load_dataset(spec, progress=False)
    test = loaded.splits["test"]
    assert len(test) > 3000 and loaded.votes["test"].shape == (len(test), 8)
    # Independently: the FER+ file's rows named by the test images (PrivateTest/<data row>), its eight emotion columns as shares.
    table = pd.read_csv(votes_path)
    rows = [int(n.split("/")[1]) for n in test.images.tolist()]
    assert all(n.startswith("PrivateTest/") for n in test.images.tolist())
    assert (table["Usage"].to_numpy()[rows] == "PrivateTest").all()
    raw = table[list(FERPLUS_COLUMNS[:8])].to_numpy(np.float64)[rows]
    assert np.allclose(loaded.votes["test"], raw / raw.sum(axis=1, keepdims=True), atol=1e-6)
    # Each majority label is the class with the largest vote share.
    assert (loaded.votes["test"].argmax(axis=1) == test.y).all()

    # Scored as a trial is: the record's soft NLL and ECE are the votes' (a model as sure as the majority, 0.7).
    k = len(classes)

    def sure(n: int) -> np.ndarray:
        return np.full((n, k), 0.3 / (k - 1), np.float32)

    prob = sure(len(test))
    prob[np.arange(len(test)), test.y] = 0.7
    scored = _score(loaded, lambda n: prob if n == len(test) else sure(n))
    q = loaded.votes["test"]
    assert scored.test.soft_nll == pytest.approx(float(np.mean(-(q * np.log(prob)).sum(axis=1))), rel=1e-5)
    assert scored.test.soft_ece == pytest.approx(abs(float(q[np.arange(len(q)), test.y].mean()) - 0.7), abs=1e-5)
    assert np.array_equal(scored.predictions.votes("test"), q)
