"""The efficiency frontier in a report: Pareto sets, exported variants, evaluated models and sized baselines.

One tiny multi-objective search (its Pareto set exported to int8 TFLite), one external
Keras model scored by ``ferbench evaluate`` and a baselines file with one sized entry
go into ``ferbench report --compare``. The frontier table must hold each of them with
its size, cost and latency, mark the front as a brute-force check says, validate
against schemas/frontier.schema.json in JSON, and come with plots against parameters,
MACs and latency; the run's own section holds its Pareto set. The reports are written
by one fresh interpreter, which must import no TensorFlow while writing them.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from report_helpers import squeeze_md

pytest.importorskip("tensorflow")
pytest.importorskip("optuna")

pytestmark = pytest.mark.slow

SPEC = """\
ferbench: 1
name: front
seed: 5
results: {results}
dataset:
  kind: synthetic
  image_size: 32
  synthetic: {{train: 56, validation: 28, test: 28, imbalance: balanced}}
model: {{stages: [0, 1, 2], depth: 0.25, dropout: 0.1, top_filters: 32}}
train: {{learning_rate: 0.004, batch_size: 16, max_epochs: 1, eval_batch_size: 32, early_stopping: null}}
search:
  trials: 2
  sampler: {{name: nsga2, population_size: 2}}
  objectives: [{{metric: val_accuracy}}, {{metric: params}}, {{metric: latency_ms}}]
  space:
    width: {{float: [0.1, 1.0], step: 0.05}}
runtime: {{devices: cpu}}
"""

BASELINES = """\
ferbench_baselines: 1
baselines:
  - id: tiny_published
    name: Tiny published net
    kind: published
    dataset: synthetic
    split: test
    num_classes: 7
    metrics: {accuracy: 0.30}
    params: 5000
    macs: 400000
    citation: {authors: A. Author, title: A tiny network, year: 2024}
  - id: unsized_published
    name: Unsized net
    kind: published
    dataset: synthetic
    split: test
    num_classes: 7
    metrics: {accuracy: 0.31}
    citation: {authors: B. Author, title: A network of unknown size, year: 2024}
"""


def _cli(*args: str) -> str:
    from ferbench.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(list(args))
    assert rc == 0, err.getvalue()
    return out.getvalue()


@pytest.fixture(scope="module")
def frontier(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import keras

    from ferbench.run.progress import PlainReporter
    from ferbench.run.runner import run_spec

    root = tmp_path_factory.mktemp("frontier")
    spec = root / "front.yaml"
    spec.write_text(SPEC.format(results=root / "results"))
    [result] = run_spec(spec, reporter=PlainReporter(io.StringIO()))
    assert result.status == "complete" and result.info.pareto
    _cli("export", str(result.folder), "--pareto", "--format", "tflite-int8", "--format", "onnx")
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    external = root / "external.keras"
    keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x)).save(external)
    _cli("evaluate", str(external), "--spec", str(spec), "--input-range", "-1-1", "--name", "external-net")
    baselines = root / "baselines.yaml"
    baselines.write_text(BASELINES)
    out, md, runs = root / "report" / "report.json", root / "report-md" / "compare.md", root / "report-runs" / "runs.md"
    results, compare = str(root / "results"), ["--compare", "--baselines", str(baselines)]
    reports = [["report", results, *compare, "--format", "json", "--out", str(out)],
               ["report", results, *compare, "--format", "markdown", "--out", str(md)],
               ["report", results, "--format", "markdown", "--out", str(runs)]]
    # One fresh interpreter writes the three reports (this process has TensorFlow loaded already).
    code = ("import sys, json; from ferbench.cli.main import main; "
            f"rcs = [main(a) for a in {reports!r}]; "
            "print(json.dumps([rcs, sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'optuna'))]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rcs, heavy = json.loads(proc.stdout.strip().splitlines()[-1])
    assert rcs == [0, 0, 0], proc.stderr[-3000:]
    return {"root": root, "run": result.folder, "json": out, "md": md, "runs": runs, "baselines": baselines, "heavy": heavy}


def _frontier(paths: dict[str, Path]) -> list[dict]:
    [comparison] = json.loads(paths["json"].read_text())["comparisons"]
    return comparison["frontier"]


def test_the_frontier_holds_every_kind_of_model(frontier) -> None:
    from ferbench.results import load_run

    rows = _frontier(frontier)
    run = load_run(frontier["run"])
    trials = [r for r in rows if r["kind"] == "trial" and r["source"].startswith(f"run {run.run_id}")]
    assert sorted(r["trial"] for r in trials) == list(run.info.pareto or ())
    exports = [r for r in rows if r["kind"] == "export"]
    pareto = list(run.info.pareto or ())
    assert sorted(r["trial"] for r in exports) == sorted(pareto * 2) and {r["variant"] for r in exports} == {"tflite-int8", "onnx"}
    for e in exports:
        rec = json.loads((frontier["run"] / "trials" / f"{e['trial']:04d}" / "exports" / e["variant"] / "export.json").read_text())
        assert e["accuracy"] == rec["metrics"]["test"]["accuracy"] and e["latency_ms"] == rec["latency"]["batches"][0]["median_ms"]
    [external] = [r for r in rows if r["model"] == "external-net"]
    assert external["params"] == 4 * 9 + 4 + 4 * 7 + 7 and external["macs"] == 30 * 30 * 9 * 4 + 4 * 7
    assert external["latency_ms"] > 0 and external["measured_on"].startswith("cpu (")
    [baseline] = [r for r in rows if r["kind"] == "baseline"]
    assert (baseline["model"], baseline["params"], baseline["macs"], baseline["latency_ms"]) == ("Tiny published net", 5000, 400000, None)
    assert not any(r["model"] == "Unsized net" for r in rows)  # no size: a line on the plot, not a row


def test_the_front_is_what_a_brute_force_check_says(frontier) -> None:
    rows = _frontier(frontier)
    for axis, flag in (("params", "front_params"), ("latency_ms", "front_latency")):
        for r in rows:
            if r[axis] is None:
                assert r[flag] is False
                continue
            beaten = any(o is not r and o[axis] is not None and o[axis] <= r[axis] and o["accuracy"] >= r["accuracy"]
                         and (o[axis] < r[axis] or o["accuracy"] > r["accuracy"]) for o in rows)
            assert r[flag] is (not beaten), (axis, r["model"])


def test_the_json_blocks_validate_against_the_frontier_schema(frontier) -> None:
    from ferbench.results.schema import schema_problems

    doc = json.loads(frontier["json"].read_text())
    assert schema_problems({"frontier": _frontier(frontier)}, "frontier.schema.json") == []
    [run] = [r for r in doc["runs"] if r["spec_name"] == "front"]
    assert schema_problems({"objectives": run["objectives"], "pareto": run["pareto"]}, "frontier.schema.json") == []
    assert [p["trial"] for p in run["pareto"]] == json.loads((frontier["run"] / "run.json").read_text())["pareto"]
    assert all(p["exports"] == ["tflite-int8", "onnx"] for p in run["pareto"])
    broken = {"frontier": [{**_frontier(frontier)[0], "accuracy": 1.5}]}
    assert any("accuracy" in p for p in schema_problems(broken, "frontier.schema.json"))


def test_plots_against_parameters_macs_and_latency(frontier) -> None:
    plots = frontier["json"].parent / "report-plots"
    names = {p.name for p in (plots / "compare-synthetic-7").iterdir()}
    assert names == {f"efficiency_frontier{k}.{ext}" for k in ("", "_macs", "_latency") for ext in ("png", "svg")}
    run_dir = next(d for d in (frontier["runs"].parent / "runs-plots").iterdir() if d.name.startswith("run-front"))
    assert {f"pareto_{k}.png" for k in ("params", "macs", "latency")} <= {p.name for p in run_dir.iterdir()}


def test_markdown_shows_the_frontier_and_the_pareto_set(frontier) -> None:
    text = squeeze_md(frontier["md"].read_text())
    assert "### Efficiency frontier: size, cost, latency and accuracy" in text
    assert "| Front: params | Front: latency |" in text and "tflite-int8" in text and "onnx" in text
    runs = squeeze_md(frontier["runs"].read_text())
    assert "### Pareto set (" in runs and "| val_accuracy (max) | params (min) | latency_ms (min) |" in runs


def test_the_frontier_report_imports_no_tensorflow(frontier) -> None:
    assert frontier["heavy"] == []  # the fresh interpreter that wrote every report above loaded none of them
