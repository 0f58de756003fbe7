"""Training under each FER+ label scheme (dataset.labels_mode) on a tiny FER2013 CSV with
planted votes: every scheme trains and is scored on the majority labels of the test split."""

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
from test_ferplus import votes_file  # noqa: E402

from ferbench.run.progress import PlainReporter  # noqa: E402
from ferbench.run.runner import run_spec  # noqa: E402

pytestmark = pytest.mark.slow

SPEC = """\
ferbench: 1
name: fp_modes
seed: 2
results: {results}
dataset:
  kind: fer2013
  path: {data}
  labels: fer2013new.csv
  image_size: 16
  classes: [happy, sad]
  splits: {{train: Training, validation: PublicTest, test: PrivateTest}}
model: {{stages: [0, 1], width: 0.1, depth: 0.1, dropout: 0.0, top_filters: 16}}
loss: {{class_weight: inverse_frequency}}
train: {{learning_rate: 0.003, batch_size: 8, max_epochs: 1, early_stopping: null}}
search: {{trials: 1}}
matrix:
  dataset.labels_mode: [multi_target]  # soft targets and the multi-target loss; the draws of probability: below
runtime: {{devices: cpu}}
"""


def test_each_scheme_trains_and_tests_on_majority_labels(tmp_path):
    rows, _, _ = small_fer(np.random.default_rng(3), {"Training": 32, "PublicTest": 8, "PrivateTest": 8})
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    rng = np.random.default_rng(4)
    votes = []
    for i in range(48):
        happy = int(rng.integers(2, 9))
        votes.append([0, happy, 0, 10 - happy, 0, 0, 0, 0, 0, 0] if i % 3 else [0, 5, 0, 5, 0, 0, 0, 0, 0, 0])
    votes_file(tmp_path / "fer2013new.csv", [r[2] for r in rows], votes)
    majority_test = sum(1 for v in votes[40:] if max(v) > 5)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(results=tmp_path / "results", data=tmp_path))
    results = run_spec(spec, reporter=PlainReporter(io.StringIO()))
    assert len(results) == 1
    for r in results:
        assert r.status == "complete", r.folder
        run = json.loads((r.folder / "run.json").read_text())
        assert run["dataset"]["sizes"]["test"] == majority_test  # faces without a majority are never scored
        record = json.loads((r.folder / "trials" / "0000" / "record.json").read_text())
        assert record["state"] == "complete" and 0 <= record["metrics"]["test"]["accuracy"] <= 1
        # The training faces without a majority trained too (they have a target): train is larger than majority's.
        assert run["dataset"]["sizes"]["train"] == 32


def test_probability_draws_a_label_per_batch_from_each_target():
    import tensorflow as tf

    from ferbench.run.train.inputs import with_targets

    soft = np.array([[0.7, 0.3], [0.0, 1.0], [0.5, 0.5]], np.float32)
    ids = np.tile(np.arange(3), 400)
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((len(ids), 1), np.float32), ids)).batch(60)
    drawn = [(t.numpy(), i.numpy()) for (_, t, _w), (_, i) in zip(with_targets(ds, soft, np.array([1.0, 2.0]), sample=True, seed=5), ds)]
    t = np.concatenate([d[0] for d in drawn])
    i = np.concatenate([d[1] for d in drawn])
    assert set(np.unique(t).tolist()) == {0.0, 1.0} and np.all(t.sum(axis=1) == 1)  # one-hot labels
    share = [t[i == k, 0].mean() for k in range(3)]
    assert abs(share[0] - 0.7) < 0.06 and share[1] == 0.0 and abs(share[2] - 0.5) < 0.06
    again = np.concatenate([tt.numpy() for _, tt, _w in with_targets(ds, soft, np.array([1.0, 2.0]), sample=True, seed=5)])
    assert np.array_equal(t, again)  # the same seed draws the same labels
    soft_out = next(iter(with_targets(ds, soft, None, sample=False, seed=5)))[1].numpy()
    assert np.allclose(soft_out, soft[ids[:60]])  # crossentropy: the target itself


def test_multi_target_loss_and_accuracy_follow_the_reference():
    from ferbench.run.train.trial import any_target_hit, multi_target_loss

    target = np.array([[0.6, 0.4, 0.0], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5]], np.float32)
    prob = np.array([[0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]], np.float32)
    # Right when the predicted class is any emotion the target names.
    assert np.asarray(any_target_hit()(target, prob)).tolist() == [1.0, 0.0, 1.0]
    # -log max_i(t_i p_i): row 0 is max(0.6 * 0.2, 0.4 * 0.7) = 0.28.
    assert np.allclose(np.asarray(multi_target_loss()(target, prob)), -np.log([0.28, 0.1, 0.4]), atol=1e-5)
