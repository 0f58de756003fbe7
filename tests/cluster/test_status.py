"""``ferbench status``: the job's tasks from SLURM, the trials, the best so far and the ETA from the study.

The study is a journal file in the run folder with trials of known lengths; SLURM's
``squeue`` is a stand-in that prints what a real one does for an array job
(``sacct`` fails, as it does without accounting), so the numbers are exact.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from cluster_helpers import REPO, cli

optuna = pytest.importorskip("optuna")

SQUEUE = """#!/bin/bash
echo "55_0|RUNNING|0:42|vm"
echo "55_1|PENDING|0:00|(Resources)"
"""


def test_status_reads_tasks_trials_best_and_eta(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("sbatch", '#!/bin/bash\necho 55\n'), ("squeue", SQUEUE), ("sacct", "#!/bin/bash\nexit 1\n")):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERBENCH_STORAGE", raising=False)
    monkeypatch.chdir(tmp_path)
    rc, out, err = cli(["submit", str(REPO / "benchmarks" / "quickstart.yaml"), "--slurm", "--tasks", "2", "--set", "search.trials=6"], capsys)
    assert rc == 0 and "submitted job slurm:55" in out, err
    [folder] = (tmp_path / "results" / "quickstart").iterdir()
    [submitted] = json.loads((folder / "jobs" / "submitted.json").read_text())
    assert submitted["job"] == "slurm:55" and submitted["storage"] == f"journal://{(folder / 'study.journal').resolve()}"

    # The study the job's workers would fill: two complete trials of 10 s and 30 s, one running.
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(folder / "study.journal")))
    study = optuna.create_study(study_name=folder.name, storage=storage, direction="minimize")
    t0 = dt.datetime(2026, 1, 1, 12, 0, 0)
    for value, length in ((1.5, 10), (1.2, 30)):
        study.add_trial(_timed(value, t0, length))
    study.ask()  # one running

    rc, out, err = cli(["status", str(folder), "--json"], capsys)
    assert rc == 0, err
    state = json.loads(out)
    assert state["job"] == {"id": "slurm:55", "source": "squeue", "tasks": [
        {"task": "0", "state": "RUNNING", "elapsed": "0:42", "where": "vm"},
        {"task": "1", "state": "PENDING", "elapsed": "0:00", "where": "(Resources)"}]}
    assert state["trials"] == {"target": 6, "finished": 2, "complete": 2, "pruned": 0, "failed": 0, "running": 1, "waiting": 0,
                               "left": 4, "retried": []}
    assert state["best"] == {"trial": 1, "metric": "val_loss", "value": 1.2} and state["done"] is False
    assert state["eta_s"] == 80.0  # mean 20 s per trial, 4 left, one busy worker: 4 rounds
    assert state["storage"] == f"journal://{(folder / 'study.journal').resolve()}"

    rc, out, _ = cli(["status", str(folder)], capsys)
    lines = out.splitlines()
    assert rc == 0 and lines[1].split() == ["task", "0", "RUNNING", "0:42", "on", "vm"]
    assert "2 of 6 finished" in out and "trial 1" in out and "val_loss 1.2000" in out and "1m 20s" in out


def _timed(value: float, start: dt.datetime, seconds: int) -> optuna.trial.FrozenTrial:
    trial = optuna.trial.create_trial(value=value, params={}, distributions={}, state=optuna.trial.TrialState.COMPLETE)
    trial.datetime_start = start
    trial.datetime_complete = start + dt.timedelta(seconds=seconds)
    return trial
