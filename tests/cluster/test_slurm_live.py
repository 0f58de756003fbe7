"""``ferbench submit --slurm`` on a live single-node SLURM cluster, with the study in PostgreSQL.

One job of two array tasks trains the quickstart spec with a tiny budget. While it
runs, ``ferbench status --json`` shows both tasks running and the study part done;
the task that trains the last trial (its second) is cancelled with ``scancel``
while it trains, and the other task re-runs that trial. The study ends with exactly the
spec's number of complete trials, each run once, spread over both tasks; run.json
names the job; a report
from the study alone lists every trial; and the storage password is nowhere: not in
the job script, not in the environment SLURM keeps for the job or the workers'
environment, not in any file or output.

SLURM: a cluster that answers, or the one ``.ci/slurm-up`` starts (as root, CI does);
PostgreSQL: ``$FERBENCH_TEST_POSTGRES``. The test skips, saying which, without them.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from cluster_helpers import REPO, cli, env_for

optuna = pytest.importorskip("optuna")
if importlib.util.find_spec("tensorflow") is None:  # the workers train; this process need not import it
    pytest.skip("TensorFlow is not installed", allow_module_level=True)

pytestmark = pytest.mark.slow

TRIALS = 3  # each task trains one; the task that takes the third is cancelled, and the other (idle by then) re-runs it
TINY = ["--set", f"search.trials={TRIALS}", "--set", "train.max_epochs=1", "--set", "train.batch_size=16",
        "--set", "dataset.synthetic.train=112", "--set", "dataset.synthetic.validation=28", "--set", "dataset.synthetic.test=28",
        "--set", "model.stages=[0, 1, 2]", "--set", "model.top_filters=32", "--set", "search.sampler.n_startup_trials=2"]


def _wait(what: str, check, timeout: float = 240.0, every: float = 0.5):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def _finished_trials(log: Path) -> list[int]:
    text = log.read_text() if log.exists() else ""
    return [int(n) for n in re.findall(r"\] trial (\d+) complete", text)]


def _training(log: Path) -> int | None:
    """The trial a task's log shows it training now (started after its first complete trial), or None."""
    text = log.read_text() if log.exists() else ""
    done = re.findall(r"\] trial (\d+) complete", text)
    started = re.findall(r"\] trial (\d+) \(\d+/\d+\) started", text)
    return int(started[-1]) if done and started and started[-1] not in done else None


def _worker_environments(run_id: str) -> list[bytes]:
    """The environment of every live worker process of this run (as /proc holds it)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes()
            if b"ferbench\x00worker" in cmd and run_id.encode() in cmd:
                found.append((proc / "environ").read_bytes())
        except OSError:
            continue
    return found


def _slurm_saved_environment(job: str) -> bytes:
    """The environment SLURM stored for the job at submission (slurmctld's state save location)."""
    conf = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True).stdout
    state = Path(re.search(r"StateSaveLocation\s*=\s*(\S+)", conf).group(1))
    files = list(state.glob(f"hash.*/job.{job}/environment"))
    return b"".join(f.read_bytes() for f in files)


def test_two_task_job_scancel_status_and_no_password(tmp_path: Path, postgres_url: str, slurm_cluster: None,
                                                     monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from ferbench.cli.common import load
    from ferbench.plan import plan_spec
    from ferbench.run.search.storage import open_storage

    password = re.match(r"[^:]+://[^:/@]*:([^@]+)@", postgres_url).group(1)
    # The submitting shell holds the URL in $FERBENCH_STORAGE and (as CI's does) in another variable too;
    # sbatch hands this process's environment to the job (the workers import ferbench from this checkout).
    for var, value in env_for(tmp_path, FERBENCH_STORAGE=postgres_url, FERBENCH_TEST_POSTGRES=postgres_url,
                              FERBENCH_HEARTBEAT_S="2", FERBENCH_GRACE_S="6", FERBENCH_POLL_S="1").items():
        monkeypatch.setenv(var, value)
    monkeypatch.chdir(tmp_path)
    spec = str(REPO / "benchmarks" / "quickstart.yaml")
    [run_id] = [r.run_id for r in plan_spec(load(Path(spec), TINY[1::2]), gpus=[]).runs]
    storage = open_storage(postgres_url)
    for s in optuna.get_all_study_summaries(storage):  # a study left by an earlier run of this test
        if s.study_name == run_id:
            optuna.delete_study(study_name=run_id, storage=storage)
    outputs = ""
    job = None
    try:
        rc, out, err = cli(["submit", spec, "--slurm", "--tasks", "2", *TINY], capsys)
        outputs += out + err
        assert rc == 0, err
        job = re.search(r"submitted job slurm:(\d+)", out).group(1)
        monkeypatch.delenv("FERBENCH_STORAGE")  # status finds the storage through the job's storage file
        folder = tmp_path / "results" / "quickstart" / run_id
        logs = [folder / "jobs" / f"slurm-{job}_{i}.out" for i in (0, 1)]

        # During: one task has finished a trial and trains another; both tasks run.
        def second_trial() -> tuple[int, int] | None:
            return next(((i, n) for i, log in enumerate(logs) if (n := _training(log)) is not None), None)
        victim, training = _wait("a task to train its second trial", second_trial)
        other = 1 - victim
        worker_envs = _worker_environments(run_id)
        rc, out, err = cli(["status", str(folder), "--json"], capsys)
        outputs += out + err
        assert rc == 0, err
        now = json.loads(out)
        assert now["job"]["id"] == f"slurm:{job}" and {t["task"]: t["state"] for t in now["job"]["tasks"]} == {"0": "RUNNING", "1": "RUNNING"}
        assert now["trials"]["target"] == TRIALS and now["trials"]["running"] >= 1 and now["trials"]["complete"] >= 1
        assert now["trials"]["left"] >= 1 and now["done"] is False and now["best"]["metric"] == "val_loss"
        subprocess.run(["scancel", f"{job}_{victim}"], check=True)

        def over() -> bool:
            q = subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True)
            return q.returncode == 0 and not q.stdout.strip()
        _wait("the job to end", over)
        saved_env = _slurm_saved_environment(job)

        # After: the exact count, each trial once, over both tasks; the cancelled trial re-ran in task 0.
        rc, out, err = cli(["status", str(folder), "--json"], capsys)
        outputs += out + err
        end = json.loads(out)
        assert end["done"] is True and end["eta_s"] == 0
        assert {k: end["trials"][k] for k in ("complete", "finished", "running", "waiting", "left")} == \
            {"complete": TRIALS, "finished": TRIALS, "running": 0, "waiting": 0, "left": 0}
        assert {t["task"]: t["state"] for t in end["job"]["tasks"]} == {str(other): "COMPLETED", str(victim): "CANCELLED"}
        study = optuna.load_study(study_name=run_id, storage=storage)
        states = optuna.trial.TrialState
        complete = [t for t in study.trials if t.state == states.COMPLETE]
        [stopped] = [t for t in study.trials if t.number == training]
        [rerun] = [t for t in study.trials if t.user_attrs.get("ferbench_retry_of") == training]
        assert stopped.state == states.FAIL and rerun.state == states.COMPLETE and rerun.params == stopped.params
        by_task = [_finished_trials(log) for log in logs]
        assert by_task[0] and by_task[1] and not set(by_task[0]) & set(by_task[1])  # both worked, no trial twice
        assert sorted(by_task[0] + by_task[1]) == sorted(t.number for t in complete) and rerun.number in by_task[other]
        assert len(complete) == TRIALS and end["trials"]["retried"] == [training]

        run = json.loads((folder / "run.json").read_text())
        assert run["jobs"] == [f"slurm:{job}"] and run["status"] == "complete" and run["trials"]["complete"] == TRIALS
        assert sorted(run["holds"]) == sorted(t.number for t in complete)

        rc, out, err = cli(["report", "--storage", postgres_url, "--spec", spec, *TINY, "--format", "json"], capsys)
        outputs += out + err
        assert rc == 0, err
        [reported] = json.loads(out)["runs"]
        assert sorted(t["trial"] for t in reported["trials"]) == sorted(t.number for t in complete)

        # The password: not in the script, the job's environment (SLURM's copy, the workers'), any output or file.
        script = (folder / "jobs" / "slurm.sh").read_text()
        assert "FERBENCH_STORAGE_FILE=" in script and password not in script
        assert worker_envs and all(b"FERBENCH_STORAGE_FILE=" in e and password.encode() not in e for e in worker_envs)
        assert saved_env and password.encode() not in saved_env
        assert password not in outputs
        secret_files = list((tmp_path / "home").rglob("*.url"))
        assert len(secret_files) == 1
        for p in tmp_path.rglob("*"):
            if p.is_file() and p not in secret_files:
                assert password.encode() not in p.read_bytes(), p
    finally:
        if job is not None:
            subprocess.run(["scancel", job], capture_output=True)
        try:
            optuna.delete_study(study_name=run_id, storage=storage)
        except KeyError:
            pass
