"""``ferbench submit --slurm``: the job script, the storage file, the job's environment (no SLURM needed).

The script's signal handling is run for real under bash, with a stand-in worker and
``scontrol``: SLURM's time-limit signal (USR1 to the batch shell) becomes SIGTERM for
every worker, and with ``--requeue`` the task puts itself back in the queue.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
from cluster_helpers import PASSWORD, REPO, cli

from ferbench.cluster.jobs import JobRequest, WorkerCommand
from ferbench.cluster.secret import job_environment, read_url
from ferbench.cluster.slurm import job_script
from ferbench.errors import FerbenchError

URL = f"postgresql://alice:{PASSWORD.replace('/', '%2F').replace(':', '%3A').replace('@', '%40')}@db.example:5432/optuna"
QUICK = ["--set", "search.trials=3", "--set", "train.max_epochs=1"]
SPEC = str(REPO / "benchmarks" / "quickstart.yaml")


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory and HOME, no storage in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("FERBENCH_STORAGE", "FERBENCH_STORAGE_FILE", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_dry_run_prints_the_array_script_with_every_option_and_no_password(here: Path, monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FERBENCH_STORAGE", URL)
    rc, script, err = cli(["submit", SPEC, "--slurm", "--tasks", "3", "--gpus-per-task", "2", "--partition", "gpu",
                           "--account", "lab", "--time", "1-12:00:00", "--requeue", "--signal-s", "300",
                           "--extra", "#SBATCH --qos=long", "--dry-run", *QUICK], capsys)
    assert rc == 0, err
    for line in ("#SBATCH --array=0-2", "#SBATCH --gres=gpu:2", "#SBATCH --partition=gpu", "#SBATCH --account=lab",
                 "#SBATCH --time=1-12:00:00", "#SBATCH --requeue", "#SBATCH --signal=B:USR1@300", "#SBATCH --qos=long", "#SBATCH --open-mode=append",
                 "WORKERS_PER_TASK=2", "REQUEUE=1"):
        assert line in script.splitlines(), line
    assert "worker" in script and "--create" in script and "--set search.trials=3" in script
    assert PASSWORD not in script and "alice" not in script and "db.example" not in script
    assert "FERBENCH_STORAGE_FILE=" in script and "unset FERBENCH_STORAGE" in script
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0  # it parses as bash
    rc, script, err = cli(["submit", SPEC, "--slurm", "--logs", "/shared/logs", "--dry-run"], capsys)
    assert rc == 0 and "#SBATCH --output=/shared/logs/slurm-%A_%a.out" in script.splitlines(), err
    assert not (here / "results").exists() and not (here / "home").exists()  # a dry run writes nothing


def test_storage_file_is_private_and_a_shared_one_is_refused(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shared = here / "url"
    shared.write_text(URL)
    shared.chmod(0o644)
    with pytest.raises(FerbenchError, match="chmod 600"):
        read_url(shared)
    shared.chmod(0o600)
    assert read_url(shared) == URL
    rc, out, err = cli(["submit", SPEC, "--slurm", "--storage-file", str(shared), "--dry-run"], capsys)
    assert rc == 0 and f"FERBENCH_STORAGE_FILE={shared}" in out and PASSWORD not in out + err, err


def test_the_job_environment_keeps_no_variable_holding_the_password() -> None:
    env = {"FERBENCH_STORAGE": URL, "OTHER_COPY": f"x {PASSWORD} y", "PATH": "/usr/bin", "PYTHONPATH": "/src"}
    clean = job_environment(env, URL)
    assert clean == {"PATH": "/usr/bin", "PYTHONPATH": "/src"}


@pytest.mark.parametrize(("args", "says"), [
    (["--slurm", "--kubernetes"], "--slurm or --kubernetes"),
    (["--slurm", "--storage", "sqlite:///x.db"], "SQLite cannot take"),
    (["--slurm", "--time", "soon"], "HH:MM:SS"),
    (["--slurm", "--extra", "--qos=long"], "#SBATCH"),
])
def test_refusals_are_one_line(here: Path, args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(["submit", SPEC, *args, "--dry-run"], capsys)
    assert rc == 2 and says in err and len(err.strip().splitlines()) == 1, err


FAKE_WORKER = """#!/bin/bash
# Stands in for `ferbench worker`: notes its arguments and GPU, stops on SIGTERM as a worker does (exit 130).
echo "$* gpu=${CUDA_VISIBLE_DEVICES:-}" >> "$OUT/started"
trap 'echo "TERM $*" >> "$OUT/stopped"; exit 130' TERM
while :; do sleep 0.1; done
"""


@pytest.mark.parametrize("requeue", [True, False])
def test_time_limit_signal_stops_every_worker_and_requeues_the_task(tmp_path: Path, requeue: bool) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "worker").write_text(FAKE_WORKER)
    (bin_dir / "scontrol").write_text('#!/bin/bash\necho "$*" >> "$OUT/scontrol"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    cmd = WorkerCommand(python=str(bin_dir / "worker"), spec="/specs/s.yaml", run_id="abc123", workdir=str(tmp_path))
    script = job_script(JobRequest(tasks=4, gpus_per_task=2, requeue=requeue), cmd, name="x", logs=tmp_path, storage_file=None)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "OUT": str(tmp_path), "SLURM_ARRAY_TASK_ID": "3",
           "SLURM_ARRAY_JOB_ID": "77", "CUDA_VISIBLE_DEVICES": "4,6"}
    job = subprocess.Popen(["bash", "-c", script], env=env)
    started = tmp_path / "started"
    deadline = time.monotonic() + 20
    while (not started.exists() or len(started.read_text().splitlines()) < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    job.send_signal(signal.SIGUSR1)  # what --signal=B:USR1@S sends the batch shell before the time limit
    assert job.wait(timeout=20) == 130
    lines = sorted(started.read_text().splitlines())
    # One worker per GPU, each with its own GPU and index (task 3 of 2 workers each: 6 and 7).
    assert [(ln.split("--index ")[1].split()[0], ln.split("gpu=")[1]) for ln in lines] == [("6", "4"), ("7", "6")]
    assert len((tmp_path / "stopped").read_text().splitlines()) == 2
    scontrol = tmp_path / "scontrol"
    assert (scontrol.read_text().split() == ["requeue", "77_3"]) if requeue else not scontrol.exists()


def test_submit_keeps_the_url_in_a_private_file(here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """With an sbatch that records its environment: the URL goes to a private file, not to sbatch, nor to any file written."""
    fake = here / "bin"
    fake.mkdir()
    (fake / "sbatch").write_text('#!/bin/bash\nenv > "$SBATCH_ENV_DUMP"\necho "4242;cluster"\n')
    (fake / "sbatch").chmod(0o755)
    for var, value in (("FERBENCH_STORAGE", URL), ("PATH", f"{fake}:{os.environ['PATH']}"),
                       ("SBATCH_ENV_DUMP", str(here / "env.txt")), ("SECRET_COPY", URL)):
        monkeypatch.setenv(var, value)
    rc, out, err = cli(["submit", SPEC, "--slurm", *QUICK], capsys)
    assert rc == 0, err
    assert "submitted job slurm:4242" in out and PASSWORD not in out + err
    [file] = (here / "home" / ".config" / "ferbench" / "storage").iterdir()
    assert stat.S_IMODE(file.stat().st_mode) == 0o600 and stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    assert file.read_text().strip() == URL
    dumped = (here / "env.txt").read_text()
    assert PASSWORD not in dumped and "FERBENCH_STORAGE=" not in dumped and "SECRET_COPY" not in dumped
    [run] = (here / "results" / "quickstart").iterdir()
    assert (run / "jobs" / "slurm.sh").is_file() and (run / "spec.resolved.yaml").is_file()
    assert '"job": "slurm:4242"' in (run / "jobs" / "submitted.json").read_text()
    for p in here.rglob("*"):
        if p.is_file() and p != file:
            assert PASSWORD.encode() not in p.read_bytes(), p


def test_worker_refuses_a_storage_file_others_can_read(here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A task's worker reads $FERBENCH_STORAGE_FILE, and refuses one that leaks, before it opens anything."""
    leaky = here / "url"
    leaky.write_text(URL)
    leaky.chmod(0o640)
    monkeypatch.setenv("FERBENCH_STORAGE_FILE", str(leaky))
    rc, out, err = cli(["worker", SPEC, "--create"], capsys)
    assert rc == 2 and "others can read it (mode 640)" in err and f"chmod 600 {leaky}" in err, err
    assert PASSWORD not in out + err and not (here / "results").exists()
