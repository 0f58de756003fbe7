"""SIGKILL mid-trial, then start again: finished trials untouched, the killed one re-run, exact count.

Drives the public command line (``python -m ferbench run``) in a subprocess and
kills it with SIGKILL while the second trial trains (when its first epoch line
appears in the plain log), so nothing in ferbench gets a chance to clean up.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("tensorflow")

from runspecs import write_spec  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]

REPO = Path(__file__).resolve().parents[3]


def _cmd(spec: Path) -> list[str]:
    return [sys.executable, "-m", "ferbench", "run", str(spec)]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "200"
    return env


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("trials/*/*"))}


def test_sigkill_and_resume(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write_spec(tmp_path, name="killed", trials=3, epochs=3)
    proc = subprocess.Popen(_cmd(spec), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env(), cwd=tmp_path)
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if " trial 1 epoch 1/" in line:  # the second trial is training: kill it there
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)

    [folder] = [p.parent for p in (tmp_path / "results" / "killed").glob("*/run.json")]
    before = _digests(folder)
    assert sorted({k.split("/")[1] for k in before}) == ["0000"]  # trial 0 finished, trial 1 left nothing
    assert json.loads((folder / "run.json").read_text())["status"] == "running"  # it never got to say otherwise
    killed = optuna.load_study(study_name=folder.name, storage=f"sqlite:///{folder / 'study.db'}").trials[1]
    assert killed.state == optuna.trial.TrialState.RUNNING

    # Started again in this process: the kill needed a process of its own, the resume does not.
    from ferbench.cli.main import main

    monkeypatch.setenv("COLUMNS", "200")
    capfd.readouterr()
    rc = main(["run", str(spec)])
    again_out, again_err = capfd.readouterr()
    assert rc == 0, again_out + again_err
    assert "re-queued trial(s) 1" in again_out

    after = _digests(folder)
    assert {k: after[k] for k in before} == before  # finished trial byte-identical
    study = optuna.load_study(study_name=folder.name, storage=f"sqlite:///{folder / 'study.db'}")
    trials = {t.number: t for t in study.trials}
    assert trials[1].state == optuna.trial.TrialState.FAIL
    [retry] = [t for t in trials.values() if t.user_attrs.get("ferbench_retry_of") == 1]
    assert retry.params == killed.params and retry.state == optuna.trial.TrialState.COMPLETE

    records = {int(p.parent.name): json.loads(p.read_text()) for p in folder.glob("trials/*/record.json")}
    assert len(records) == 3 and 1 not in records  # the spec's total; the dead trial has no record
    assert records[retry.number]["params"] == killed.params
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "complete"
    assert info["trials"] == {"target": 3, "complete": 3, "failed": 0, "pruned": 0}
    assert "best trial" in again_out  # the final table
