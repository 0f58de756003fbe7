"""Helpers of the cluster tests: ferbench as a subprocess or in this process, a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "pw-Zq7/x:y@k"  # a password with the characters a URL must escape


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment: ferbench from this checkout, a private HOME for the storage files."""
    env = {k: v for k, v in os.environ.items() if k not in ("FERBENCH_STORAGE", "FERBENCH_STORAGE_FILE", "XDG_CONFIG_HOME")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["HOME"] = str(tmp_path / "home")
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def ferbench(*args: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ferbench", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``ferbench ARGS`` in this process: (exit status, stdout, stderr)."""
    from ferbench.cli.main import main

    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err
