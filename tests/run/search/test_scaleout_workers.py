"""Several worker processes on one study: two local workers on a journal file, two on PostgreSQL.

Each test kills one worker with SIGKILL while it trains and checks that the run
still completes with exactly the spec's number of trials, no trial number twice,
and the killed trial re-run with the same parameters by the other worker.
PostgreSQL comes from ``$FERBENCH_TEST_POSTGRES`` (``.ci/run`` starts a server
and sets it); the test skips without it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("tensorflow")

from runspecs import write_spec  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]

REPO = Path(__file__).resolve().parents[3]
S = optuna.trial.TrialState
FAST = {"FERBENCH_HEARTBEAT_S": "1", "FERBENCH_GRACE_S": "3", "FERBENCH_POLL_S": "1"}


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "200"
    env.pop("FERBENCH_STORAGE", None)
    env.update(FAST)
    env.update(extra)
    return env


def _spec(tmp_path: Path, name: str, workers: int = 1, trials: int = 4) -> Path:
    spec = write_spec(tmp_path, name=name, trials=trials, epochs=2)
    spec.write_text(spec.read_text().replace("runtime: {devices: cpu}", f"runtime: {{devices: cpu, workers: {workers}}}"))
    return spec


class Lines:
    """A process's stdout, read on a thread, so a test can wait for a line and still collect everything."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.lines, self._cond = proc, [], threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self.lines.append(None)
            self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float = 240) -> re.Match:
        rx = re.compile(pattern)
        with self._cond:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if line is None:
                        raise AssertionError(f"{pattern!r} never came:\n" + self.text())
                    m = rx.search(line)
                    if m:
                        return m
                seen = len(self.lines)
                if not self._cond.wait(timeout):
                    raise AssertionError(f"{pattern!r} not within {timeout}s:\n" + self.text())

    def text(self) -> str:
        return "".join(l for l in self.lines if l)


def _check_study(study, target: int, killed: int) -> None:
    trials = {t.number: t for t in study.get_trials()}
    assert len(trials) == len(study.get_trials())  # no trial number twice
    retried = {int(t.user_attrs["ferbench_retry_of"]) for t in trials.values() if "ferbench_retry_of" in t.user_attrs}
    counted = [t for n, t in trials.items() if n not in retried and not t.user_attrs.get("ferbench_surplus")]
    assert len(counted) == target and all(t.state == S.COMPLETE for t in counted), [(t.number, t.state) for t in counted]
    assert trials[killed].state == S.FAIL and killed in retried
    [retry] = [t for t in trials.values() if t.user_attrs.get("ferbench_retry_of") == killed]
    assert retry.params == trials[killed].params and retry.state == S.COMPLETE


def _check_records(folder: Path, target: int, killed: int) -> None:
    records = [json.loads(p.read_text()) for p in folder.glob("trials/*/record.json")]
    numbers = [r["trial"] for r in records]
    assert len(numbers) == target and len(set(numbers)) == target and killed not in numbers


def test_two_local_workers_on_a_journal_survive_a_killed_worker(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "pool", workers=2, trials=3)
    proc = subprocess.Popen([sys.executable, "-m", "ferbench", "run", str(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=_env(), cwd=tmp_path)
    out = Lines(proc)
    pid = int(out.wait_for(r"worker w1 started on cpu \(pid (\d+)\)").group(1))
    killed = int(out.wait_for(r" w1\] trial (\d+) \(\d+/3\) started").group(1))
    os.kill(pid, signal.SIGKILL)
    assert proc.wait(timeout=300) == 0, out.text()
    text = out.text()
    assert f"worker w1 (cpu, pid {pid}) was killed by signal 9" in text
    assert re.search(rf"w0\] re-queued trial\(s\) {killed} whose worker stopped", text), text

    [folder] = [p.parent for p in (tmp_path / "results" / "pool").glob("*/run.json")]
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "complete" and info["trials"] == {"target": 3, "complete": 3, "failed": 0, "pruned": 0}
    assert info["devices"] == ["cpu", "cpu"] and info["storage"].endswith("study.journal")
    study = optuna.load_study(study_name=folder.name, storage=optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "study.journal"))))
    _check_study(study, 3, killed)
    _check_records(folder, 3, killed)


def test_sigterm_stops_every_local_worker_and_the_run_resumes(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec(tmp_path, "stopped", workers=2, trials=2)
    cmd = [sys.executable, "-m", "ferbench", "run", str(spec)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(), cwd=tmp_path)
    out = Lines(proc)
    pids = [int(out.wait_for(rf"worker w{i} started on cpu \(pid (\d+)\)").group(1)) for i in (0, 1)]
    out.wait_for(r" w\d\] trial \d+ \(\d+/2\) started")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 130, out.text()
    for pid in pids:  # every worker stopped with it
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    [folder] = [p.parent for p in (tmp_path / "results" / "stopped").glob("*/run.json")]
    assert json.loads((folder / "run.json").read_text())["status"] == "interrupted"
    storage = optuna.storages.journal.JournalStorage(optuna.storages.journal.JournalFileBackend(str(folder / "study.journal")))
    assert not optuna.load_study(study_name=folder.name, storage=storage).get_trials(states=(S.RUNNING,))

    # Resumed with one worker in this process (the signal needed a process of its own; resuming does not, and
    # TensorFlow is imported here already): the run keeps its journal, whatever runtime.workers says now.
    from ferbench.cli.main import main

    monkeypatch.delenv("FERBENCH_STORAGE", raising=False)
    for key, value in {**FAST, "COLUMNS": "200"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    capfd.readouterr()
    rc = main(["run", str(spec), "--quiet", "--set", "runtime.workers=1"])
    again_out, again_err = capfd.readouterr()
    assert rc == 0, again_out + again_err
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "complete" and info["trials"]["complete"] == 2
    assert len(list(folder.glob("trials/*/record.json"))) == 2


def test_two_workers_on_postgresql_survive_a_killed_worker(tmp_path: Path) -> None:
    url = os.environ.get("FERBENCH_TEST_POSTGRES")
    if not url:
        pytest.skip("FERBENCH_TEST_POSTGRES is not set (.ci/run starts a PostgreSQL server and sets it)")
    pytest.importorskip("psycopg")
    from ferbench.plan import plan_spec
    from ferbench.run.search.storage import open_storage
    from ferbench.secrets import redact
    from ferbench.spec import load_spec

    password = re.match(r"[^:]+://[^:/@]*:([^@]+)@", url).group(1)
    spec = _spec(tmp_path, f"pg{uuid.uuid4().hex[:8]}", trials=3)  # a study of its own in a shared database
    [planned] = plan_spec(load_spec(spec), gpus=[]).runs
    cmd = [sys.executable, "-m", "ferbench", "worker", str(spec), "--create"]
    env = _env(FERBENCH_STORAGE=url)
    a = subprocess.Popen(cmd + ["--index", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    b = subprocess.Popen(cmd + ["--index", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    out_a, out_b = Lines(a), Lines(b)
    try:
        killed = int(out_b.wait_for(r" w1\] trial (\d+) \(\d+/3\) started").group(1))
        b.kill()
        b.wait(timeout=30)
        assert a.wait(timeout=300) == 0, out_a.text() + (a.stderr.read() if a.stderr else "")
        text_a = out_a.text()
        assert re.search(rf"re-queued trial\(s\) {killed} whose worker stopped sending heartbeats", text_a), text_a
        assert f"{planned.run_id}: 3/3 trials finished (3 complete" in text_a

        storage = open_storage(url)
        study = optuna.load_study(study_name=planned.run_id, storage=storage)
        _check_study(study, 3, killed)
        folder = Path(planned.results_dir) if Path(planned.results_dir).is_absolute() else tmp_path / planned.results_dir
        _check_records(folder, 3, killed)
        info = json.loads((folder / "run.json").read_text())
        assert info["status"] == "complete" and info["storage"] == redact(url)

        # A worker whose spec resolves differently is refused, in one line.
        other = subprocess.run(cmd[:-1] + ["--run", planned.run_id, "--set", "train.max_epochs=3"], capture_output=True,
                               text=True, env=env, cwd=tmp_path, timeout=120)
        assert other.returncode == 2 and "different spec" in other.stderr and len(other.stderr.strip().splitlines()) == 1

        # The password is nowhere: not in any output, log or file.
        logs = text_a + out_b.text() + (a.stderr.read() or "") + (b.stderr.read() or "") + other.stdout + other.stderr
        assert password not in logs
        for p in tmp_path.rglob("*"):
            if p.is_file():
                assert password.encode() not in p.read_bytes(), p
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
        try:
            optuna.delete_study(study_name=planned.run_id, storage=open_storage(url))
        except KeyError:
            pass
