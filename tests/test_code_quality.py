"""ruff and mypy (strict on ferbench/) pass: CI runs them through the test suite.

Both are configured in pyproject.toml. They are development tools (the ``dev``
extra); where one is not installed its test skips.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tool(module: str) -> None:
    pytest.importorskip(module)


def test_ruff_finds_nothing() -> None:
    _tool("ruff")
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "ferbench", "tests", "benchmarks"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_finds_nothing() -> None:
    _tool("mypy")
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success" in out.stdout
