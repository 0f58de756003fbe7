"""Evaluation as papers need it, end to end on two shared tiny experiments.

- ``trained``: one small model (mini-Xception, the fastest family to learn the quickstart's
  synthetic faces in a few epochs) trained once for the module, scored with temperature scaling
  and under corruptions: the robustness, calibration, report-format and TensorFlow-free checks
  all read it.
- ``seeds``: two configurations (learning rates) x three seeds of a tiny EfficientNetV2 (two
  stages, width and depth 0.1), one epoch on a few dozen faces: the seed-level comparison needs
  six runs, not six good models, and a small graph is quick to trace.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("optuna")

from ferbench.report.api import write_report  # noqa: E402
from ferbench.results import Run, load_runs  # noqa: E402

pytestmark = pytest.mark.slow

TRAINED = """\
ferbench: 1
name: trained
seed: 1
results: {results}
dataset:
  kind: synthetic
  image_size: 32
  color: grayscale
  synthetic: {{train: {train}, validation: 64, test: 200, imbalance: balanced}}
model: {{arch: mini-xception}}
train: {{learning_rate: 0.006, batch_size: {batch}, max_epochs: {epochs}, early_stopping: null}}
search: {{trials: 1, objective: {{metric: val_accuracy}}}}
evaluate:
  calibrate: temperature
  robustness: {{corruptions: [gaussian_noise, gaussian_blur, occlusion_eyes, occlusion_mouth, occlusion_patch], severities: [5]}}
runtime: {{devices: cpu, workers: 1}}
"""

SEEDS = """\
ferbench: 1
name: seeds
seeds: [1, 2, 3]
results: {results}
dataset:
  kind: synthetic
  image_size: 32
  color: grayscale
  synthetic: {{train: 64, validation: 32, test: 64, imbalance: balanced}}
model: {{stages: [0, 1], width: 0.1, depth: 0.1, dropout: 0.0, top_filters: 16}}
matrix:
  train.learning_rate: [0.003, 0.006]
train: {{batch_size: 16, max_epochs: 1, early_stopping: null}}
search: {{trials: 1, objective: {{metric: val_accuracy}}}}
runtime: {{devices: cpu, workers: 1}}
"""


def _run(root: Path, name: str, text: str) -> list[Run]:
    from ferbench.run.runner import run_spec

    spec = root / f"{name}.yaml"
    spec.write_text(text, encoding="utf-8")
    results = run_spec(spec, quiet=True)
    assert all(r.status == "complete" for r in results)
    return load_runs([root / "results" / name])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One trained run with calibration and robustness (its folder: ``run.path``)."""
    root = tmp_path_factory.mktemp("trained")
    (run,) = _run(root, "trained", TRAINED.format(results=root / "results", train=TRAIN_IMAGES, epochs=EPOCHS, batch=BATCH))
    return run


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Run]]:
    """Six one-epoch runs: two learning rates x three seeds."""
    root = tmp_path_factory.mktemp("seeds")
    runs = _run(root, "seeds", SEEDS.format(results=root / "results"))
    assert len(runs) == 6
    return root, runs


#: The trained model's data, epochs and batch: enough to learn the faces well above chance (7 classes,
#: 0.14; about 0.55 here). Small batches give the batch norms' moving averages (momentum 0.99) the
#: steps they need before the model is scored; fewer steps leave a model that only guesses one class.
TRAIN_IMAGES, EPOCHS, BATCH = 384, 6, 8


def _best(run: Run):  # type: ignore[no-untyped-def]
    assert run.best is not None
    return run.best


def test_severity_5_noise_blur_and_occlusion_lower_accuracy(trained) -> None:
    rb = _best(trained).robustness
    assert rb.clean > 0.35, f"the small model must learn (7 classes, chance 0.14): {rb.clean}"
    for name in ("gaussian_noise", "gaussian_blur", "occlusion_eyes", "occlusion_mouth", "occlusion_patch"):
        assert rb.accuracy[name][0] < rb.clean - 0.05, (name, rb)  # severities: [5]


def test_robustness_is_deterministic_across_evaluations(trained) -> None:
    """The trial's numbers, recomputed twice from its saved model in this process, are identical."""
    import keras

    from ferbench.results.paths import RunPaths
    from ferbench.run.train.scoring import robustness_metrics
    from ferbench.spec.types import RobustnessSpec

    run = trained
    assert run.path is not None
    from ferbench.model.layers import to_fused

    # As the trial predicted: the saved model's batch norms fused again (what `ferbench evaluate` does).
    model = to_fused(keras.models.load_model(RunPaths(run.path).best_model, compile=False))
    pred = run.predictions(_best(run))
    x = _test_images(run)
    assert np.array_equal(np.asarray(model.predict(x, verbose=0)).argmax(1), pred.y_pred("test"))
    spec = RobustnessSpec(corruptions=tuple(_best(run).robustness.accuracy), severities=(5,))  # type: ignore[arg-type]

    def predict(images: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(images, verbose=0))

    first = robustness_metrics(predict, x, pred.test_y_true, spec, _best(run).robustness.clean, run.info.seed)
    second = robustness_metrics(predict, x, pred.test_y_true, spec, _best(run).robustness.clean, run.info.seed)
    assert first == second
    assert dict(first.accuracy) == dict(_best(run).robustness.accuracy)


def _test_images(run: Run) -> np.ndarray:
    """The run's test split, rebuilt from its resolved spec (synthetic data is generated, seeded)."""
    from ferbench.data import load_dataset
    from ferbench.spec import load_spec

    assert run.path is not None
    spec = load_spec(run.path / "spec.resolved.yaml")
    return np.asarray(load_dataset(spec.dataset, seed=run.info.seed, progress=False).splits["test"].x)


def test_temperature_scaling_lowers_validation_nll(trained) -> None:
    best = _best(trained)
    assert best.calibration is not None and best.validation is not None and best.validation.loss is not None
    after = best.calibration.validation.loss
    assert after is not None and after <= best.validation.loss + 1e-9
    assert best.calibration.validation.accuracy == best.validation.accuracy  # the arg-max does not move


def test_two_configurations_three_seeds_in_the_report(experiment, tmp_path: Path) -> None:
    root, runs = experiment
    out = tmp_path / "report.json"
    write_report([root / "results"], fmt="json", out=out, compare=True, plots=False)
    data = json.loads(out.read_text(encoding="utf-8"))
    seeds = data["comparisons"][0]["seeds"]
    by_lr: dict[float, dict[int, float]] = {}
    for r in runs:
        by_lr.setdefault(float(r.info.matrix_cell["train.learning_rate"]), {})[r.info.seed] = _best(r).test.accuracy
    assert len(seeds["experiments"]) == 2
    for e in seeds["experiments"]:
        lr = 0.003 if "0.003" in e["experiment"] else 0.006
        values = list(by_lr[lr].values())
        assert e["mean"] == pytest.approx(statistics.fmean(values))
        assert e["sd"] == pytest.approx(statistics.stdev(values))
    from scipy.stats import ttest_rel

    (test,) = seeds["tests"]
    a, b = (0.003, 0.006) if "0.003" in test["a"] else (0.006, 0.003)
    shared = sorted(by_lr[a])
    assert test["seeds"] == shared == [1, 2, 3]
    expected = ttest_rel([by_lr[b][s] for s in shared], [by_lr[a][s] for s in shared]).pvalue
    assert test["p_value"] == pytest.approx(expected)
    assert ("exceeds seed noise" in test["sentence"]) == (expected < 0.05)
    md = tmp_path / "report.md"
    write_report([root / "results"], fmt="markdown", out=md, compare=True, plots=False)
    text = md.read_text(encoding="utf-8")
    assert "Paired tests over seeds" in text and test["sentence"] in text and "Over seeds" in text


def test_every_format_has_the_new_tables_and_html_the_plots(trained, tmp_path: Path) -> None:
    folder = trained.path
    for fmt, ext in (("markdown", "md"), ("csv", "csv"), ("latex", "tex"), ("html", "html"), ("json", "json"), ("rich", "txt")):
        out = tmp_path / f"r.{ext}"
        write_report([folder], fmt=fmt, out=out, plots=fmt == "html")
        text = out.read_text(encoding="utf-8")
        for needle in ("gaussian", "occlusion", "Robustness", "Calibration"):  # LaTeX escapes the underscores of names
            assert needle in text, (fmt, needle)
        assert ("temperature" in text.lower()) and ("ECE" in text or "ece" in text), fmt
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    for figure in ("reliability", "robustness"):
        assert f'id="{figure}"' in html


SCRIPT = """
import sys
from ferbench.cli.report import app
for args in ([sys.argv[1], "--compare", "--format", "json", "--no-plots", "--attributes", sys.argv[3]],
             [sys.argv[1], "--format", "html", "--out", sys.argv[2], "--attributes", sys.argv[3]]):
    try:
        app(args)
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
import json
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "optuna"))))
"""


def test_the_new_report_parts_import_no_tensorflow(trained, tmp_path: Path) -> None:
    attrs = tmp_path / "attributes.csv"  # by the synthetic test images' names, in no particular order
    order = np.random.default_rng(0).permutation(200)
    attrs.write_text("image,gender\n" + "".join(f"test/{i},{'female' if i % 3 else 'male'}\n" for i in order), encoding="utf-8")
    folder = trained.path
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(folder), str(tmp_path / "r.html"), str(attrs)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="fairness_gender"' in html and 'id="robustness"' in html and 'id="reliability"' in html
