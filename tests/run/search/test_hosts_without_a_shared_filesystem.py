"""Two hosts that share only the database: one PostgreSQL study, two separate results folders.

Two ``ferbench worker`` processes, each in a folder of its own (as two machines
without a shared filesystem would be), pull the trials of one study. Each folder
then holds only its own trials and says so; the study carries every trial's
record, so a report from the storage alone lists every trial with its metrics;
``ferbench collect`` merges the two folders, byte for byte, into one that
``report --compare`` and ``verify`` accept; and ``verify`` takes the two folders as
one run as well. PostgreSQL comes from ``$FERBENCH_TEST_POSTGRES`` (CI starts a
server and sets it); the test skips without it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("tensorflow")

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]

SPEC = """\
ferbench: 1
name: {name}
seed: 3
results: results
dataset:
  kind: synthetic
  image_size: 32
  synthetic: {{train: 56, validation: 28, test: 28, imbalance: balanced}}
augment: {{enabled: true}}
model: {{stages: [0, 1, 2], depth: 0.25, dropout: 0.1, top_filters: 32}}
loss: {{class_weight: inverse_frequency}}
train: {{batch_size: 16, max_epochs: 2, early_stopping: {{monitor: val_loss, patience: 1}}}}
search:
  trials: 6
  sampler: {{name: random}}
  space:
    learning_rate: {{float: [1.0e-3, 1.0e-2], log: true}}
    width: {{float: [0.1, 0.25], step: 0.05}}
runtime: {{devices: cpu, deterministic: true}}
"""


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "200"
    env.pop("FERBENCH_STORAGE", None)
    env.update({"FERBENCH_HEARTBEAT_S": "1", "FERBENCH_GRACE_S": "10", "FERBENCH_POLL_S": "1"})  # no host is killed here
    env.update(extra)
    return env


def _ferbench(*args: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ferbench", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def _in_process(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``ferbench ARGS`` through the CLI's entry point in this process (no third TensorFlow import)."""
    from ferbench.cli.main import main

    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["ferbench", *args], rc, out, err)


def _records(folder: Path) -> dict[int, bytes]:
    return {int(p.parent.name): p.read_bytes() for p in folder.glob("trials/*/record.json")}


def test_two_hosts_sharing_only_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = os.environ.get("FERBENCH_TEST_POSTGRES")
    if not url:
        pytest.skip("FERBENCH_TEST_POSTGRES is not set (CI starts a PostgreSQL server and sets it)")
    pytest.importorskip("psycopg")
    from ferbench.plan import plan_spec
    from ferbench.run.search.storage import open_storage
    from ferbench.spec import load_spec

    password = re.match(r"[^:]+://[^:/@]*:([^@]+)@", url).group(1)
    name = f"hosts{uuid.uuid4().hex[:8]}"  # a study of its own in a shared database
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(name=name))
    [planned] = plan_spec(load_spec(spec), gpus=[]).runs
    hosts = [tmp_path / "host-a", tmp_path / "host-b"]
    logs = ""
    try:
        workers = []
        for i, host in enumerate(hosts):
            host.mkdir()
            workers.append(subprocess.Popen([sys.executable, "-m", "ferbench", "worker", str(spec), "--create", "--index", str(i)],
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=host,
                                            env=_env(FERBENCH_STORAGE=url)))
        for w in workers:
            out, _ = w.communicate(timeout=400)
            logs += out
            assert w.returncode == 0, out
        folders = [h / "results" / name / planned.run_id for h in hosts]

        # Each host's folder holds its own trials, names its host, and counts the whole study.
        held = [_records(f) for f in folders]
        assert all(held) and not set(held[0]) & set(held[1]), [sorted(h) for h in held]  # both worked, no trial twice
        assert sorted({**held[0], **held[1]}) == list(range(6))
        for f, h in zip(folders, held):
            info = json.loads((f / "run.json").read_text())
            assert info["holds"] == sorted(h) and len(info["hosts"]) == 1
            assert info["status"] == "complete" and info["trials"]["complete"] == 6
        alone = _ferbench("report", str(folders[0]), cwd=tmp_path, env=_env())
        assert alone.returncode == 2 and len(alone.stderr.strip().splitlines()) == 1, alone.stderr
        assert f"holds {len(held[0])} of the run's 6 finished trials" in alone.stderr

        # The study carries every trial's record: exactly what is on disk, whichever host wrote it.
        study = optuna.load_study(study_name=planned.run_id, storage=open_storage(url))
        on_disk = {n: json.loads(b) for h in held for n, b in h.items()}
        counted = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        assert {t.number: t.user_attrs["ferbench_record"] for t in counted} == on_disk
        assert study.user_attrs["ferbench_run"]["run_id"] == planned.run_id

        # A report from the storage alone lists every trial with its metrics.
        rep = _ferbench("report", "--storage", url, "--spec", str(spec), "--format", "json", cwd=tmp_path, env=_env())
        logs += rep.stdout + rep.stderr
        assert rep.returncode == 0, rep.stderr
        doc = json.loads(rep.stdout)
        [run] = doc["runs"]
        assert {t["trial"]: t["metrics"] for t in run["trials"]} == {n: r["metrics"] for n, r in on_disk.items()}
        assert {t["trial"]: t["host"] for t in run["trials"]} == {n: r["environment"]["host"] for n, r in on_disk.items()}
        assert run["status"] == "complete" and run["best_trial"] in on_disk
        assert any("confidence intervals" in w for w in doc["warnings"])

        # collect: one folder, records byte-identical to each host's, that report --compare and verify accept.
        merged = tmp_path / "merged"
        col = _ferbench("collect", str(folders[0]), str(folders[1]), "--into", str(merged), cwd=tmp_path, env=_env())
        logs += col.stdout + col.stderr
        assert col.returncode == 0, col.stderr
        assert _records(merged) == {**held[0], **held[1]}
        for f in folders:
            for n in _records(f):
                for file in ("record.json", "history.csv", "predictions.npz"):
                    assert (merged / "trials" / f"{n:04d}" / file).read_bytes() == (f / "trials" / f"{n:04d}" / file).read_bytes()
        assert (merged / "best" / "model.keras").is_file()
        assert json.loads((merged / "best" / "best.json").read_text())["trial"] == run["best_trial"]
        cmp = _ferbench("report", str(merged), "--compare", "--format", "json", "--no-plots", cwd=tmp_path, env=_env())
        assert cmp.returncode == 0, cmp.stderr
        [merged_run] = json.loads(cmp.stdout)["runs"]
        assert merged_run["best_trial"] == run["best_trial"] and merged_run["test"]["from_predictions"] is True
        # verify retrains: in this process, which has TensorFlow loaded already.
        monkeypatch.delenv("FERBENCH_STORAGE", raising=False)
        monkeypatch.setenv("COLUMNS", "200")
        monkeypatch.chdir(tmp_path)
        ver = _in_process(capsys, "verify", str(merged))
        logs += ver.stdout + ver.stderr
        assert ver.returncode == 0 and "reproduced exactly" in ver.stdout, ver.stdout + ver.stderr
        # The two host folders, given together, are one run to verify as well.
        both = _in_process(capsys, "verify", str(folders[0]), str(folders[1]))
        assert both.returncode == 0 and f"{folders[0]} + {folders[1]}: trial(s) {run['best_trial']} reproduced" in both.stdout, \
            both.stdout + both.stderr

        # The password is nowhere: no output, no file.
        assert password not in logs
        for p in tmp_path.rglob("*"):
            if p.is_file():
                assert password.encode() not in p.read_bytes(), p
    finally:
        for w in locals().get("workers", []):
            if w.poll() is None:
                w.kill()
        try:
            optuna.delete_study(study_name=planned.run_id, storage=open_storage(url))
        except KeyError:
            pass
