"""``ferbench plan`` and ``ferbench model summary`` on the zoo spec: every family's parameters and MACs, without TensorFlow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from ferbench.model.registry import FAMILIES, family_cost, small_input_applies
from ferbench.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
ZOO = "benchmarks/zoo_fer2013_cpu.yaml"


def _light(args: list[str], tmp_path: Path) -> tuple[str, list[str]]:
    """Run the CLI in a fresh process; its output, and which of TensorFlow, Keras and Optuna it imported."""
    code = (
        "import sys\nfrom ferbench.cli.main import main\n"
        f"rc = main({args!r})\n"
        "print('HEAVY', sorted(m for m in ('tensorflow', 'keras', 'optuna') if m in sys.modules), rc, file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "FERBENCH_DATA": str(tmp_path), "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert "HEAVY" in r.stderr, r.stderr
    return r.stdout, r.stderr.rsplit("HEAVY", 1)[1].split()


def test_plan_of_the_zoo_shows_every_familys_cost_without_tensorflow(tmp_path: Path) -> None:
    out, heavy = _light(["plan", ZOO, "--json"], tmp_path)
    assert heavy == ["[]", "0"]
    runs = json.loads(out)["runs"]
    assert sorted(r["model"]["arch"] for r in runs) == sorted(FAMILIES)
    spec = load_spec(REPO / ZOO)
    for r in runs:
        cell = r["matrix_cell"]["model"]
        config = FAMILIES[cell["arch"]].config(cell.get("stages"), **{k: v for k, v in cell.items() if k not in ("arch", "stages")})
        # from scratch at 48 px only MobileNetV3-Small (all stages) takes its small-input stem, as a trial builds it
        assert small_input_applies(config, spec.input_shape) is (cell["arch"] == "mobilenetv3-small")
        config = replace(config, small_input=small_input_applies(config, spec.input_shape))
        cost = family_cost(config, spec.input_shape, spec.num_classes)
        assert r["model"]["params"] == [cost.params, cost.params] and r["model"]["macs"] == [cost.macs, cost.macs]
    text, heavy = _light(["plan", ZOO], tmp_path)
    assert heavy == ["[]", "0"]
    for arch in FAMILIES:
        assert f"model          {arch}," in text


def test_model_summary_of_the_zoo_has_one_table_per_family(tmp_path: Path) -> None:
    out, heavy = _light(["model", "summary", ZOO, "--json"], tmp_path)
    assert heavy == ["[]", "0"]
    summaries = json.loads(out)
    assert [s["arch"] for s in summaries] == [a for a in FAMILIES]
    for s in summaries:
        head = FAMILIES[s["arch"]].head_stage
        assert [row["stage"] for row in s["smallest"]["stages"]] == [*s["stages"], head]
        assert s["smallest"] == s["largest"]  # nothing searched: one model each


def test_model_list_names_every_family_and_its_stages(tmp_path: Path) -> None:
    out, heavy = _light(["model", "list", "--json"], tmp_path)
    assert heavy == ["[]", "0"]
    listed = {f["name"]: f for f in json.loads(out)}
    assert list(listed) == list(FAMILIES)
    assert [s["operator"] for s in listed["mini-xception"]["stages"]][-1] == "Conv3x3 & Pool & softmax"
    assert listed["resnet50"]["imagenet"] == "ResNet50" and listed["resnet18"]["imagenet"] is None
    assert listed["efficientnetv2-b2"]["defaults"] == {"width": 1.1, "depth": 1.2, "dropout": 0.3, "top_filters": 1280, "drop_connect": 0.2}
