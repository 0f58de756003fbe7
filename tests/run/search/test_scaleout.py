"""Scale-out without a GPU: plans, owner locks, journal recovery, spec refusal, passwords.

The runs with several worker processes are in test_scaleout_workers.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from runspecs import write_spec

REPO = Path(__file__).resolve().parents[3]
SECRET = "pw-Zq81xK-never-shown"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("FERBENCH_STORAGE", None)
    env.update(extra)
    return env


def _ferbench(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ferbench", *args], capture_output=True, text=True,
                          env=_env(**extra), cwd=cwd, timeout=300)


def _workers(spec: Path, n: int, sampler: str = "random") -> Path:
    text = spec.read_text().replace("runtime: {devices: cpu}", f"runtime: {{devices: cpu, workers: {n}}}")
    spec.write_text(text.replace("sampler: {name: random}", f"sampler: {{name: {sampler}}}"))
    return spec


def test_plan_assigns_one_worker_per_slot_and_turns_the_liar_on(tmp_path: Path) -> None:
    spec = _workers(write_spec(tmp_path), 2, sampler="tpe")
    r = _ferbench("plan", str(spec), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    [run] = json.loads(r.stdout)["runs"]
    assert run["workers"] == 2 and run["devices"] == ["cpu", "cpu"]
    assert [(a["worker"], a["device"], a["cuda_visible_devices"]) for a in run["assignment"]] == [("w0", "cpu", "-1"), ("w1", "cpu", "-1")]
    assert run["sampler"]["constant_liar"] is True
    assert run["storage"].startswith("journal://") and run["storage"].endswith("study.journal")
    text = _ferbench("plan", str(spec), cwd=tmp_path, COLUMNS="250").stdout
    assert "w0 cpu (CUDA_VISIBLE_DEVICES=-1), w1 cpu (CUDA_VISIBLE_DEVICES=-1)" in text and "constant_liar" in text


def test_device_slots_for_gpus() -> None:
    from ferbench.devices import device_slots, worker_assignment

    assert device_slots("auto", "auto", gpus=[0, 1, 2]) == ["gpu:0", "gpu:1", "gpu:2"]
    assert device_slots((1, 3), "auto", gpus=[0, 1, 2, 3]) == ["gpu:1", "gpu:3"]
    assert device_slots("cpu", 3, gpus=[0]) == ["cpu", "cpu", "cpu"]
    assert [a["cuda_visible_devices"] for a in worker_assignment(("gpu:1", "gpu:3"))] == ["1", "3"]


def test_one_worker_plan_keeps_the_spec_sampler(tmp_path: Path) -> None:
    from ferbench.plan import plan_spec, run_summary
    from ferbench.spec import load_spec

    spec = load_spec(_workers(write_spec(tmp_path), 1, sampler="tpe"))
    assert run_summary(plan_spec(spec, gpus=[]).runs[0])["sampler"]["constant_liar"] is False


def test_owner_lock_tells_alive_from_dead(tmp_path: Path) -> None:
    from ferbench.run.search.owners import new_token, owner_alive, owner_lock

    token = new_token()
    with owner_lock(tmp_path, token):
        assert owner_alive(tmp_path, token)
    assert not owner_alive(tmp_path, token)
    assert not owner_alive(tmp_path, "never-started")


def test_journal_trial_of_a_dead_owner_is_requeued_once(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    from ferbench.run.search import accounting as st
    from ferbench.run.search import study as sy
    from ferbench.run.search.owners import owner_lock, owners_dir
    from ferbench.run.search.storage import open_storage
    from ferbench.spec import load_spec

    spec = load_spec(write_spec(tmp_path, trials=3))
    journal = tmp_path / "study.journal"
    study = sy.open_study(spec, study_name="j", storage=open_storage(f"journal://{journal}"), spec_hash="h" * 64)
    owners = owners_dir(journal)
    with owner_lock(owners, "alive-worker"):
        live = study.ask()
        live.set_user_attr(st.ATTR_OWNER, "alive-worker")
        live.suggest_float("width", 0.1, 0.3)
        dead = study.ask()
        dead.set_user_attr(st.ATTR_OWNER, "killed-worker")
        w = dead.suggest_float("width", 0.1, 0.3)
        other = sy.open_study(spec, study_name="j", storage=open_storage(f"journal://{journal}"), spec_hash="h" * 64)
        assert st.recover_dead(study, exclusive=False, owners=owners) == [dead.number]
        assert st.recover_dead(other, exclusive=False, owners=owners) == []  # a second worker finds nothing to do
    c = st.counts(study, 3)
    assert (c.running, c.waiting, c.retried) == (1, 1, (dead.number,))
    [queued] = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert queued.params == {} and queued.user_attrs[st.ATTR_RETRY_OF] == dead.number
    retry = study.ask()
    assert retry.suggest_float("width", 0.1, 0.3) == w


def test_worker_refuses_a_study_of_another_spec(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    from ferbench.plan import plan_spec
    from ferbench.run.search import study as sy
    from ferbench.run.search.storage import open_storage
    from ferbench.spec import load_spec

    spec_path = write_spec(tmp_path, trials=3)
    [planned] = plan_spec(load_spec(spec_path), gpus=[]).runs
    journal = tmp_path / "shared.journal"
    sy.open_study(planned.spec, study_name=planned.run_id, storage=open_storage(f"journal://{journal}"), spec_hash=planned.spec_hash)
    url = f"journal://{journal}"

    r = _ferbench("worker", str(spec_path), "--storage", url, "--set", "train.max_epochs=5", "--run", planned.run_id, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and "different spec" in line and planned.spec_hash[:12] in line
    assert "Traceback" not in r.stderr

    r = _ferbench("worker", str(spec_path), "--storage", url, "--set", "train.max_epochs=5", cwd=tmp_path)
    assert r.returncode == 2
    [line] = r.stderr.strip().splitlines()
    assert "different spec" in line and "refused" in line and planned.run_id in line


def _in_process(capfd: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess:
    """``ferbench ARGS`` through the CLI's entry point in this process (no second TensorFlow import)."""
    from ferbench.cli.main import main

    capfd.readouterr()
    rc = main(list(args))
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(["ferbench", *args], rc, out, err)


def test_no_password_in_errors_or_files_when_the_database_is_unreachable(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("optuna")
    pytest.importorskip("psycopg")
    spec = write_spec(tmp_path)
    url = f"postgresql://ferbench:{SECRET}@127.0.0.1:9/nowhere"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FERBENCH_STORAGE", raising=False)
    runs = [
        _in_process(capfd, "run", str(spec), "--storage", url),
        _in_process(capfd, "worker", str(spec), "--storage", url),
    ]
    monkeypatch.setenv("FERBENCH_STORAGE", url)
    runs.append(_in_process(capfd, "worker", str(spec)))
    monkeypatch.delenv("FERBENCH_STORAGE")
    runs.append(_ferbench("plan", str(spec), "--storage", url, cwd=tmp_path))
    for r in runs[:3]:
        assert r.returncode == 2, r.stdout + r.stderr
        assert "cannot open study storage postgresql://ferbench:***@127.0.0.1:9/nowhere" in r.stderr
    assert "ferbench:***@" in runs[3].stdout
    for r in runs:
        assert SECRET not in r.stdout + r.stderr
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert SECRET.encode() not in p.read_bytes(), p


def test_pool_progress_passes_worker_lines_and_estimates_from_the_study() -> None:
    import io

    from ferbench.run.progress import PlainReporter, RunInfo

    buf = io.StringIO()
    rep = PlainReporter(stream=buf)
    rep.run_started(RunInfo(name="x", run_id="abc", index=1, total_runs=1, target=10, finished=0, folder="f",
                            metric="val_loss", max_epochs=2))
    rep.worker_line("12:00:00 [x abc w1] trial 3 epoch 1/2: loss=1.9\n")
    assert buf.getvalue().splitlines()[-1] == "12:00:00 [x abc w1] trial 3 epoch 1/2: loss=1.9"
    assert rep.eta_s() is None
    rep.study_progress(2, 2, (1, 0.5))
    rep._pool_t0 -= 60.0  # a minute later, two more trials have finished: 30 s a trial
    rep.study_progress(4, 2, (3, 0.4))
    assert rep.best == (3, 0.4) and rep.finished == 4
    assert 170.0 <= rep.eta_s() <= 181.0  # six trials left at 30 s each
    assert PlainReporter(stream=buf, tag="w0").prefix() == "[ferbench w0]"


def test_pool_workers_read_the_run_folder_and_get_the_storage_from_the_environment(tmp_path: Path) -> None:
    from ferbench.run.search.pool import child_env, worker_command

    folder = tmp_path / "results" / "tiny" / "0123456789ab"
    url = f"postgresql://u:{SECRET}@127.0.0.1:1/db"
    cmd = worker_command(folder, 1, "gpu:3", timeout_s=None)
    assert str(folder.resolve()) in cmd and "--set" not in cmd  # the folder's resolved spec, not the user's file
    assert not any(SECRET in part for part in cmd)
    env = child_env("gpu:3", url)
    assert env["FERBENCH_STORAGE"] == url and env["CUDA_VISIBLE_DEVICES"] == "3"
    assert child_env("cpu", url)["CUDA_VISIBLE_DEVICES"] == "-1"


@pytest.mark.slow
def test_a_worker_joins_a_run_from_its_folder_whatever_the_users_file_says_now(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorflow")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FERBENCH_STORAGE", raising=False)
    spec = write_spec(tmp_path, name="folder", trials=1, epochs=1)
    done = _in_process(capfd, "run", str(spec), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    [folder] = [p.parent for p in (tmp_path / "results" / "folder").glob("*/run.json")]
    spec.write_text(spec.read_text().replace("seed: 3", "seed: 4"))  # the user's file changed since
    url = f"sqlite:///{folder / 'study.db'}"
    edited = _in_process(capfd, "worker", str(spec), "--storage", url)
    assert edited.returncode == 2 and "no study named" in edited.stderr  # the edited spec is another run
    joined = _in_process(capfd, "worker", str(folder), "--storage", url)
    assert joined.returncode == 0, joined.stdout + joined.stderr
    assert f"{folder.name}: 1/1 trials finished" in joined.stdout
    refused = _in_process(capfd, "worker", str(folder), "--set", "seed=5")
    assert refused.returncode == 2 and "--set applies to spec files" in refused.stderr
