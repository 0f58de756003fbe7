"""The protocols end to end through the command line (its entry point, in this process): a 5-fold spec with flip TTA and an extra test set is planned
into 5 runs, trained, and reported with each fold, the mean ± sd and the trained-on × tested-on matrix."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("optuna")

pytestmark = pytest.mark.slow

SPEC = """\
ferbench: 1
name: folds5
seed: 4
results: {results}
dataset:
  kind: synthetic
  image_size: 32
  folds: 5
  synthetic: {{train: 70, validation: 35, test: 28, imbalance: balanced}}
augment: {{enabled: false}}
model: {{stages: [0, 1], width: 0.25, depth: 0.25, top_filters: 16, dropout: 0.0}}
train: {{optimizer: sgd, momentum: 0.9, learning_rate: 0.02, batch_size: 16, max_epochs: 2, schedule: {{name: cosine, warmup_epochs: 1}}}}
search: {{trials: 1}}
evaluate:
  tta: flip
  on:
    - name: eight
      dataset: {{kind: synthetic, classes: [angry, disgust, fear, happy, sad, surprise, neutral, contempt],
                 synthetic: {{train: 16, validation: 8, test: 32, imbalance: balanced}}}}
runtime: {{devices: cpu, workers: 1, deterministic: true}}
"""


@pytest.fixture
def ferbench(tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CompletedProcess[str]]:
    """``ferbench ARGS`` in tmp_path through the CLI's entry point in this process (TensorFlow is imported once)."""
    from ferbench.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "250")

    def call(*args: str) -> CompletedProcess[str]:
        capfd.readouterr()
        rc = main(list(args))
        out, err = capfd.readouterr()
        return CompletedProcess(["ferbench", *args], rc, out, err)

    return call


def test_five_folds_plan_run_and_report_mean_and_sd(tmp_path: Path, ferbench: Callable[..., CompletedProcess[str]]) -> None:
    (tmp_path / "s.yaml").write_text(SPEC.format(results=tmp_path / "results"))
    plan = ferbench("plan", "s.yaml", "--json")
    assert plan.returncode == 0, plan.stderr
    assert len(json.loads(plan.stdout)["runs"]) == 5
    run = ferbench("run", "s.yaml", "--quiet")
    assert run.returncode == 0, run.stderr[-3000:]
    folders = sorted((tmp_path / "results" / "folds5").iterdir())
    assert len(folders) == 5
    accs = []
    for folder in folders:
        info = json.loads((folder / "run.json").read_text())
        record = json.loads((folder / "trials" / "0000" / "record.json").read_text())
        assert info["dataset"]["fold"]["folds"] == 5 and info["dataset"]["sizes"]["validation"] == 21  # 105 pooled / 5
        assert info["dataset"]["cross"]["eight"]["dropped"]["contempt"] == 4
        assert set(record["metrics"]) == {"validation", "test", "tta", "cross"}
        with np.load(folder / "trials" / "0000" / "predictions.npz") as z:
            assert {"test_y_prob_tta", "cross_eight_y_prob", "cross_eight_y_prob_tta"} <= set(z.files)
            accs.append(float(np.mean(z["test_y_prob"].argmax(1) == z["test_y_true"])))
    out = ferbench("report", "results", "--compare", "--format", "markdown", "--no-plots")
    assert out.returncode == 0, out.stderr
    mean, sd = np.mean(accs) * 100, np.std(accs, ddof=1) * 100
    rows = re.sub(r" +\|", " |", re.sub(r"\| +", "| ", out.stdout))  # without tabulate's column padding
    assert f"| folds5 (5 of 5 folds: mean ± sd) | k-fold | test (n=28) | {mean:.2f} ± {sd:.2f} |" in rows
    assert sum(f"folds5 [fold={i}/5]" in out.stdout for i in range(1, 6)) == 5
    assert "## Cross-dataset: trained on × tested on" in out.stdout and "eight %" in out.stdout
