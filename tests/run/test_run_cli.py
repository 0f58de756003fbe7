"""The command line: light imports, errors, and SIGTERM as a clean, resumable stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from runspecs import write_spec

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_importing_the_commands_loads_no_tensorflow_or_optuna() -> None:
    code = ("import sys, ferbench.cli.run, ferbench.run, ferbench.run.runner, ferbench.cli.table, ferbench.run.progress; "
            "print([m for m in ('tensorflow', 'keras', 'optuna') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True)
    assert out.stdout.strip() == "[]"


def test_missing_spec_is_a_user_error(tmp_path: Path) -> None:
    from ferbench.cli.main import main

    assert main(["run", str(tmp_path / "nope.yaml")]) == 2


def test_evaluate_needs_a_spec_for_a_bare_model_file(tmp_path: Path) -> None:
    from ferbench.cli.main import main

    (tmp_path / "m.keras").write_bytes(b"not a model")
    assert main(["evaluate", str(tmp_path / "m.keras")]) == 2


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_the_run_resumes(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorflow")
    optuna = pytest.importorskip("optuna")
    spec = write_spec(tmp_path, name="termed", trials=2, epochs=6)
    # Five more epochs of trial 0 (a stop is honoured after any batch) surely outlast the reader's reaction to its first one;
    # the resume trains both trials in full, so every epoch more costs twice.
    text = spec.read_text()
    assert "early_stopping: {monitor: val_loss, patience: 1}" in text
    spec.write_text(text.replace("early_stopping: {monitor: val_loss, patience: 1}", "early_stopping: null"))
    cmd = [sys.executable, "-m", "ferbench", "run", str(spec)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=tmp_path)
    assert proc.stdout is not None
    out = []
    for line in proc.stdout:
        out.append(line)
        if " trial 0 epoch 1/" in line:
            proc.send_signal(signal.SIGTERM)
            break
    proc.wait(timeout=120)
    err = proc.stderr.read() if proc.stderr else ""
    assert " trial 0 epoch 1/" in out[-1], "".join(out) + err  # ended before the signal was sent
    assert proc.returncode == 130, "".join(out) + err
    assert "run the same command again to resume" in err
    [folder] = [p.parent for p in (tmp_path / "results" / "termed").glob("*/run.json")]
    assert json.loads((folder / "run.json").read_text())["status"] == "interrupted"
    study = optuna.load_study(study_name=folder.name, storage=f"sqlite:///{folder / 'study.db'}")
    first, queued = study.trials
    assert first.user_attrs.get("ferbench_interrupted") and queued.user_attrs["ferbench_retry_of"] == 0
    assert queued.state == optuna.trial.TrialState.WAITING

    # The same command again, in this process (the signal needed a process of its own; resuming does not).
    from ferbench.cli.main import main

    monkeypatch.setenv("COLUMNS", "200")
    capfd.readouterr()
    rc = main(["run", str(spec), "--quiet"])
    again_out, again_err = capfd.readouterr()
    assert rc == 0, again_out + again_err
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "complete" and info["trials"]["complete"] == 2
    assert again_out.startswith("termed ") and "complete: best trial" in again_out
    retry = optuna.load_study(study_name=folder.name, storage=f"sqlite:///{folder / 'study.db'}").trials[1]
    assert retry.state == optuna.trial.TrialState.COMPLETE and retry.params == first.params
