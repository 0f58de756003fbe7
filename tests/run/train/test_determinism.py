"""``runtime.deterministic: true``: two runs of one spec give bit-identical results.

The first run trains in this process, the second in a fresh ``ferbench run``
process (so nothing shared in memory can make them agree), each into its own
results folder. Trial parameters (TPE: the second trial's depend on the first's
result), history.csv (all but the seconds column), every metric of record.json
and the saved probabilities must be equal bit for bit; only timestamps, durations
and the host may differ.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("optuna")

pytestmark = pytest.mark.slow

SPEC = """\
ferbench: 1
name: determinism
seed: 21
results: {results}
dataset:
  kind: synthetic
  image_size: 24
  synthetic: {{train: 168, validation: 56, test: 56, imbalance: fer2013}}
augment: {{enabled: true}}
model: {{stages: [0, 1], depth: 0.25, dropout: 0.2, top_filters: 16}}
loss: {{class_weight: inverse_frequency}}
train: {{batch_size: 32, max_epochs: 2}}
search:
  trials: 2
  sampler: {{name: tpe, n_startup_trials: 1}}
  space:
    learning_rate: {{float: [1.0e-3, 1.0e-2], log: true}}
    width: {{float: [0.25, 0.5], step: 0.05}}
runtime: {{devices: cpu, deterministic: true}}
"""

#: Record fields that are the same in any two runs (timings, timestamps, host excluded).
REPRODUCIBLE = ("trial", "state", "params", "hyperparameters", "cost", "epochs", "best_epoch", "objective", "history",
                "metrics", "class_weight", "seed")


@pytest.fixture(autouse=True)
def _determinism_off_afterwards():
    """Op determinism is process-wide: leave it off for the tests that follow (it turns XLA off)."""
    yield
    from ferbench.run.train.seeding import set_op_determinism

    set_op_determinism(False)


def _spec(root: Path) -> Path:
    path = root / "determinism.yaml"
    path.write_text(SPEC.format(results=root / "results"), encoding="utf-8")
    return path


def _trials(results: Path) -> dict[int, Path]:
    (run,) = [p for p in (results / "determinism").iterdir() if p.is_dir() and not p.name.startswith(".")]
    return {int(p.name): p for p in sorted((run / "trials").iterdir())}


def _history(path: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    for row in rows:
        row.pop("seconds")
    return rows


def test_two_runs_are_bit_identical(tmp_path: Path) -> None:
    from ferbench.run.progress import PlainReporter
    from ferbench.run.runner import run_spec

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (result,) = run_spec(_spec(first), reporter=PlainReporter(io.StringIO()))
    assert result.status == "complete"
    proc = subprocess.run([sys.executable, "-m", "ferbench", "run", str(_spec(second)), "--quiet"],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]

    a, b = _trials(first / "results"), _trials(second / "results")
    assert sorted(a) == sorted(b) == [0, 1]
    for n in a:
        ra, rb = (json.loads((t / "record.json").read_text()) for t in (a[n], b[n]))
        assert ra["state"] == "complete", ra.get("error")
        for key in REPRODUCIBLE:
            assert ra.get(key) == rb.get(key), f"trial {n}: {key} differs"
        assert _history(a[n] / "history.csv") == _history(b[n] / "history.csv")
        with np.load(a[n] / "predictions.npz") as za, np.load(b[n] / "predictions.npz") as zb:
            assert sorted(za.files) == sorted(zb.files)
            for k in za.files:
                assert za[k].dtype == zb[k].dtype and za[k].tobytes() == zb[k].tobytes(), f"trial {n}: {k} differs"
    # The two trials did different things (the comparison is not of two empty runs).
    assert json.loads((a[0] / "record.json").read_text())["params"] != json.loads((a[1] / "record.json").read_text())["params"]
