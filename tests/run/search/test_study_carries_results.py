"""The study carries the results: every finished trial's record, the run's facts, and a report from it alone.

On one machine's own SQLite study (the set-up a laptop user watches with
optuna-dashboard); the same on PostgreSQL with workers on two hosts is
``test_hosts_without_a_shared_filesystem.py``. Also: a run made before the study
carried its records still reports from its folder, and says so when asked for
a report from its study.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("tensorflow")

from runspecs import write_spec  # noqa: E402

from ferbench.cli.main import main  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]


def _copy(finished: Path, tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(finished / "results", tmp_path / "results")
    spec = write_spec(tmp_path, name="truth", trials=3, epochs=1)
    [folder] = [p.parent for p in (tmp_path / "results" / "truth").glob("*/run.json")]
    return spec, folder


def _records(folder: Path) -> dict[int, dict]:
    return {int(p.parent.name): json.loads(p.read_text()) for p in folder.glob("trials/*/record.json")}


def _cli(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capfd.readouterr()
    return rc, out, err


def test_every_trial_carries_its_record_and_the_study_its_run(finished: Path) -> None:
    [folder] = [p.parent for p in (finished / "results" / "truth").glob("*/run.json")]
    study = optuna.load_study(study_name=folder.name, storage=f"sqlite:///{folder / 'study.db'}")
    records = _records(folder)
    assert {t.number: t.user_attrs["ferbench_record"] for t in study.trials} == records
    for t in study.trials:  # the dashboard's columns
        rec = records[t.number]
        assert t.user_attrs["ferbench_test_accuracy"] == rec["metrics"]["test"]["accuracy"]
        assert t.user_attrs["ferbench_validation_accuracy"] == rec["metrics"]["validation"]["accuracy"]
        assert t.user_attrs["ferbench_params"] == rec["cost"]["params"] and t.user_attrs["ferbench_host"]
    facts = study.user_attrs["ferbench_run"]
    info = json.loads((folder / "run.json").read_text())
    assert {k: facts[k] for k in ("run_id", "spec_hash", "dataset", "objective", "seed")} == \
           {k: info[k] for k in ("run_id", "spec_hash", "dataset", "objective", "seed")}
    assert info["holds"] == [0, 1, 2] and len(info["hosts"]) == 1


def test_a_report_from_the_study_alone(finished: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    spec, folder = _copy(finished, tmp_path)
    records = _records(folder)
    db = tmp_path / "study.db"
    shutil.move(str(folder / "study.db"), db)
    shutil.rmtree(tmp_path / "results")  # no run folder at all
    rc, out, err = _cli(capfd, "report", "--storage", f"sqlite:///{db}", "--spec", str(spec), "--format", "json")
    assert rc == 0, err
    doc = json.loads(out)
    [run] = doc["runs"]
    assert run["path"] is None and run["folders"] == [] and run["source"].startswith(f"study {folder.name} in sqlite:///")
    assert {t["trial"]: t["metrics"] for t in run["trials"]} == {n: r["metrics"] for n, r in records.items()}
    best = min(records.values(), key=lambda r: r["objective"])
    assert run["best_trial"] == best["trial"] and run["test"]["accuracy"] == best["metrics"]["test"]["accuracy"]
    assert run["test"]["from_predictions"] is False
    assert any("bootstrap confidence intervals and paired McNemar tests need" in w for w in doc["warnings"])
    # The comparison says it too, not silently.
    rc, out, err = _cli(capfd, "report", "--storage", f"sqlite:///{db}", "--spec", str(spec), "--compare", "-f", "markdown")
    assert rc == 0, err
    assert "has no predictions.npz (read from its study" in out and "## Warnings" in out
    # It imports Optuna (to read the study), never TensorFlow.
    script = ("import sys, contextlib, io\nfrom ferbench.cli.main import main\n"
              "with contextlib.redirect_stdout(io.StringIO()):\n"
              f"    rc = main(['report', '--storage', 'sqlite:///{db}', '--spec', '{spec}', '--format', 'json'])\n"
              "print(rc, sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'optuna'}))\n")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert proc.stdout.split() == ["0", "['optuna']"], proc.stdout + proc.stderr
    # No spec, or folders and a storage at once: one line, exit 2.
    for args in (["--storage", f"sqlite:///{db}"], [str(tmp_path), "--storage", f"sqlite:///{db}", "--spec", str(spec)],
                 ["--storage", f"sqlite:///{tmp_path / 'none.db'}", "--spec", str(spec)],
                 ["--storage", f"sqlite:///{db}", "--spec", str(spec), "--set", "seed=9"]):  # another run id: no such study
        rc, _, err = _cli(capfd, "report", *args)
        assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "no study named" in err and "ferbench plan SPEC" in err


def _strip(db: Path, *, trials: list[int] | None, run: bool) -> None:
    """Make the study look like one from before ferbench kept results in it."""
    con = sqlite3.connect(db)
    with con:
        keys = ("ferbench_record", "ferbench_test_accuracy", "ferbench_validation_accuracy", "ferbench_test_f1_macro",
                "ferbench_params", "ferbench_host")
        ids = [r[0] for r in con.execute("SELECT trial_id FROM trials" if trials is None else
                                         f"SELECT trial_id FROM trials WHERE number IN ({','.join('?' * len(trials))})",
                                         [] if trials is None else trials)]
        for tid in ids:
            con.executemany("DELETE FROM trial_user_attributes WHERE trial_id = ? AND key = ?", [(tid, k) for k in keys])
        if run:
            con.execute("DELETE FROM study_user_attributes WHERE key = 'ferbench_run'")
    con.close()


def test_a_run_from_before_still_reports(finished: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    spec, folder = _copy(finished, tmp_path)
    db = folder / "study.db"
    info = json.loads((folder / "run.json").read_text())
    # The study of a run from before: one trial without its record first, then none, and no run facts.
    other = next(n for n in range(3) if n != info["best_trial"])
    _strip(db, trials=[other], run=False)
    rc, out, err = _cli(capfd, "report", "--storage", f"sqlite:///{db}", "--spec", str(spec), "--format", "json")
    assert rc == 0, err
    doc = json.loads(out)
    assert sorted(t["trial"] for t in doc["runs"][0]["trials"]) == sorted(n for n in range(3) if n != other)
    assert f"trial(s) {other} of study" in json.dumps(doc) and "carry no ferbench record" in json.dumps(doc)
    _strip(db, trials=None, run=True)
    for key in ("hosts", "holds"):  # and its run.json from before
        info.pop(key)
    (folder / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    rc, _, err = _cli(capfd, "report", "--storage", f"sqlite:///{db}", "--spec", str(spec))
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "report its run folders instead" in err, err
    # Its folder reports as ever, every trial listed.
    rc, out, err = _cli(capfd, "report", str(folder), "--format", "json")
    assert rc == 0, err
    assert [t["trial"] for t in json.loads(out)["runs"][0]["trials"]] == [0, 1, 2]
    # Resumed by this ferbench: nothing retrained, nothing rewritten; run.json and the study learn what is new.
    before = {p: p.read_bytes() for p in folder.glob("trials/*/record.json")}
    rc, out, err = _cli(capfd, "run", str(spec), "--quiet")
    assert rc == 0, out + err
    assert {p: p.read_bytes() for p in folder.glob("trials/*/record.json")} == before
    again = json.loads((folder / "run.json").read_text())
    assert again["holds"] == [0, 1, 2] and again["hosts"]
    study = optuna.load_study(study_name=folder.name, storage=f"sqlite:///{db}")
    assert study.user_attrs["ferbench_run"]["run_id"] == folder.name
