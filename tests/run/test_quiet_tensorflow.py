"""TensorFlow's C++ start-up lines stay off the terminal, unless the user asked for them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

REPO = Path(__file__).resolve().parents[2]
#: What TensorFlow 2.16+ prints on import and on the first device listing (absl logs before InitializeLog).
NOISE = ("InitializeLog", "oneDNN custom operations", "cuInit", "cpu_feature_guard", "cudart_stub")


def _evaluate(tmp_path: Path, level: str | None) -> subprocess.CompletedProcess[str]:
    """``ferbench evaluate`` on a file that is not a model: imports TensorFlow, lists devices, exits 2."""
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    spec = tmp_path / "tiny.yaml"
    spec.write_text(f"ferbench: 1\nname: tiny\nresults: {tmp_path / 'results'}\ndataset: {{kind: synthetic, image_size: 32}}\n"
                    "runtime: {devices: cpu}\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    return subprocess.run([sys.executable, "-m", "ferbench", "evaluate", str(tmp_path / "bad.keras"), "--spec", str(spec)],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("level", [None, "3"])
def test_no_start_up_lines_by_default_or_at_level_3(tmp_path: Path, level: str | None) -> None:
    out = _evaluate(tmp_path, level)
    assert out.returncode == 2, out.stderr
    assert not [n for n in NOISE if n in out.stdout + out.stderr], out.stderr
    assert out.stderr.strip().splitlines() == [line for line in out.stderr.strip().splitlines() if line.startswith("error:")]


def test_a_user_who_asks_for_them_gets_them(tmp_path: Path) -> None:
    out = _evaluate(tmp_path, "0")
    assert out.returncode == 2
    assert any(n in out.stderr for n in NOISE), out.stderr  # TensorFlow's own lines, as the user asked
