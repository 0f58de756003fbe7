"""``ferbench model summary`` through its Typer app, on the repository's thesis specs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ferbench.cli.model import app
from ferbench.errors import FerbenchError

REPO = Path(__file__).resolve().parents[2]
SCALED = str(REPO / "benchmarks" / "scaled_fer2013.yaml")
BASELINE = str(REPO / "benchmarks" / "baseline_fer2013.yaml")


@pytest.fixture(autouse=True)
def data_env(monkeypatch, tmp_path):
    # The specs point at ${FERBENCH_DATA}; a summary never reads the data.
    monkeypatch.setenv("FERBENCH_DATA", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "120")


def invoke(*args: str):
    return CliRunner().invoke(app, ["summary", *args])


def test_fixed_configuration_json() -> None:
    result = invoke(SCALED, "--set", "model.width=1.3", "--set", "model.depth=0.55", "--set", "model.top_filters=24", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["searched"] == []
    assert data["settings"] == {"width": 1.3, "depth": 0.55, "top_filters": 24}
    assert data["smallest"] == data["largest"]
    assert data["smallest"]["params"] == 2_069_145
    rows = data["smallest"]["stages"]
    assert [r["stage"] for r in rows] == [0, 1, 2, 3, 4, 7]
    assert [r["channels"] for r in rows] == [32, 32, 64, 80, 168, 32]
    assert [r["repeats"] for r in rows] == [1, 2, 3, 3, 4, 1]
    assert [r["output_size"] for r in rows] == [24, 24, 12, 6, 3, 3]
    assert sum(r["params"] for r in rows) == data["smallest"]["params"]


def test_searched_values_show_a_range() -> None:
    result = invoke(BASELINE, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["searched"] == ["width", "depth", "top_filters"]
    assert data["settings"]["width"] == {"low": 0.2, "high": 1.4, "step": 0.05, "choices": None}
    assert data["smallest"]["params"] < data["largest"]["params"]
    assert data["stages"] == [0, 1, 2, 3, 4, 5, 6]


def test_table_output() -> None:
    result = invoke(SCALED, "--set", "model.width=1.3", "--set", "model.depth=0.55", "--set", "model.top_filters=24")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "MBConv4 k3x3 SE0.25" in out and "Fused-MBConv1 k3x3" in out
    assert "2,069,145" in out and "96,856,192" in out
    assert "--set" not in out  # nothing searched, no hint

    ranged = invoke(SCALED).output
    assert "searched 0.2–1.4 step 0.05" in ranged
    assert "--set model.width=..." in ranged


def test_spec_errors_reach_the_cli_boundary(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("ferbench: 1\nname: bad\nmodel: {stages: [0, 2]}\n")
    result = invoke(str(bad))
    assert result.exit_code != 0
    assert isinstance(result.exception, FerbenchError)


def test_summary_imports_no_tensorflow(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ferbench.cli.model import app\n"
        f"r = CliRunner().invoke(app, ['summary', {SCALED!r}, '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'optuna') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "FERBENCH_DATA": str(tmp_path)})
