"""`ferbench run` where the disk fills, the storage does not open, or SIGTERM comes in the first seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runspecs import write_spec

from ferbench.cli.main import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_trial_whose_model_does_not_fit_on_the_disk_is_counted_failed(small_disk: Path,
                                                                       capfd: pytest.CaptureFixture[str]) -> None:
    """Before: exit 1 with a traceback, a `complete` record beside a run.json saying 0 complete, 0 failed."""
    spec = write_spec(small_disk, name="full", trials=2, epochs=1)
    # A wide head makes the model (~0.5 MB) too big for the 256 KiB disk; the study and the records fit.
    spec.write_text(spec.read_text().replace("top_filters: 32", "top_filters: 2048"))
    assert main(["run", str(spec), "--quiet"]) == 2
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "cannot save the model to" in lines[0] and str(small_disk) in lines[0] and "No space left on device" in lines[0]
    [run_json] = (small_disk / "results" / "full").glob("*/run.json")
    info = json.loads(run_json.read_text())
    assert info["status"] == "failed" and info["trials"]["complete"] == 0 and info["trials"]["failed"] == 1
    records = [json.loads(p.read_text()) for p in run_json.parent.glob("trials/*/record.json")]
    assert [r["state"] for r in records] == ["failed"] and "No space left on device" in records[0]["error"]


@pytest.mark.slow
def test_a_storage_that_does_not_open_leaves_no_run_folder(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is None:
        pytest.skip("no PostgreSQL driver (psycopg) installed")
    spec = write_spec(tmp_path, name="nostore", trials=1, epochs=1)
    url = "postgresql://u:pw@127.0.0.1:1/db?sslpassword=SSLSECRET&connect_timeout=2"
    assert main(["run", str(spec), "--storage", url, "--quiet"]) == 2
    err = capfd.readouterr().err
    assert "SSLSECRET" not in err and "cannot open study storage" in err
    assert not (tmp_path / "results" / "nostore").exists()  # before: an empty run folder holding only .lock


@pytest.mark.slow
@pytest.mark.parametrize("delay", [2.0])
def test_sigterm_in_the_first_seconds_exits_130_with_the_message(delay: float, tmp_path: Path) -> None:
    """While Python, typer and TensorFlow load: before, exit 143 with nothing (or TensorFlow's start-up lines)."""
    spec = write_spec(tmp_path, name="early", trials=1, epochs=1)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    proc = subprocess.Popen([sys.executable, "-m", "ferbench", "run", str(spec), "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(delay)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted"), err
