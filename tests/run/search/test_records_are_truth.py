"""The records on disk are the truth: whatever happened to the study, finished records are never rewritten.

Each test starts from a copy of one finished tiny run, breaks something — the
study deleted, another storage, a trial folder deleted, a record truncated, a
study that contradicts the records — and starts ``ferbench run`` again. The
SHA-256 of every finished record.json must be unchanged afterwards, and the run
either completes by training only what is missing or refuses (exit status 2)
with a way forward.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("tensorflow")

from runspecs import write_spec  # noqa: E402

from ferbench.cli.main import main  # noqa: E402
from ferbench.run.search.study import open_run_study  # noqa: E402

pytestmark = pytest.mark.slow


def _copy(finished: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the run under ``tmp_path`` and a spec that points at it: (spec, run folder)."""
    shutil.copytree(finished / "results", tmp_path / "results")
    spec = write_spec(tmp_path, name="truth", trials=3, epochs=1)
    [folder] = [p.parent for p in (tmp_path / "results" / "truth").glob("*/run.json")]
    return spec, folder


def _hashes(folder: Path) -> dict[int, str]:
    return {int(p.parent.name): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("trials/*/record.json")}


def _run(spec: Path, capfd: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    rc = main(["run", str(spec), "--quiet", *extra])
    out, err = capfd.readouterr()
    return rc, out + err


def _trained(folder: Path, before: dict[int, str]) -> list[int]:
    """Trial numbers with a record now that had none before."""
    return sorted(set(_hashes(folder)) - set(before))


def _study(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


def test_study_deleted_is_rebuilt_from_the_records(finished: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    spec, folder = _copy(finished, tmp_path)
    before = _hashes(folder)
    (folder / "study.db").unlink()
    rc, out = _run(spec, capfd)
    assert rc == 0, out
    assert _hashes(folder) == before and _trained(folder, before) == []  # nothing retrained, nothing rewritten
    study = _study(f"sqlite:///{folder / 'study.db'}", folder.name)
    assert [t.number for t in study.trials] == sorted(before)
    assert all(t.user_attrs.get("ferbench_from_record") for t in study.trials)
    records = {n: json.loads((folder / "trials" / f"{n:04d}" / "record.json").read_text()) for n in before}
    assert {t.number: t.value for t in study.trials} == {n: r["objective"] for n, r in records.items()}
    assert {t.number: t.user_attrs["ferbench_record"] for t in study.trials} == records  # the rebuilt study carries them too
    assert json.loads((folder / "run.json").read_text())["trials"]["complete"] == 3


def test_an_empty_study_is_rebuilt_too(finished: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    spec, folder = _copy(finished, tmp_path)
    before = _hashes(folder)
    (folder / "study.db").unlink()
    optuna.create_study(study_name=folder.name, storage=f"sqlite:///{folder / 'study.db'}")  # there, but empty
    rc, out = _run(spec, capfd)
    assert rc == 0, out
    assert _hashes(folder) == before and _trained(folder, before) == []


def test_another_storage_gets_the_records_and_trains_nothing(finished: Path, tmp_path: Path,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    spec, folder = _copy(finished, tmp_path)
    before = _hashes(folder)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    rc, out = _run(spec, capfd, "--storage", other)
    assert rc == 0, out
    assert _hashes(folder) == before and _trained(folder, before) == []
    assert len(_study(other, folder.name).trials) == 3


def test_a_deleted_trial_folder_re_runs_that_trial_alone(finished: Path, tmp_path: Path,
                                                          capfd: pytest.CaptureFixture[str]) -> None:
    from ferbench.results import load_run

    spec, folder = _copy(finished, tmp_path)
    lost = json.loads((folder / "trials" / "0001" / "record.json").read_text())
    shutil.rmtree(folder / "trials" / "0001")
    before = _hashes(folder)
    rc, out = _run(spec, capfd)
    assert rc == 0, out
    assert {n: h for n, h in _hashes(folder).items() if n in before} == before
    [new] = _trained(folder, before)  # exactly one trial trained: the missing one, same parameters and seed
    again = json.loads((folder / "trials" / f"{new:04d}" / "record.json").read_text())
    assert again["params"] == lost["params"] and again["seed"] == lost["seed"]
    run = load_run(folder)  # the report reads it: counts and best trial agree with the records
    assert run.info.trials.complete == 3 and run.best is not None


def test_a_truncated_record_is_moved_aside_and_its_trial_re_run(finished: Path, tmp_path: Path,
                                                               capfd: pytest.CaptureFixture[str]) -> None:
    spec, folder = _copy(finished, tmp_path)
    record = folder / "trials" / "0002" / "record.json"
    params = json.loads(record.read_text())["params"]
    truncated = record.read_text()[:100]
    record.write_text(truncated)
    before = {n: h for n, h in _hashes(folder).items() if n != 2}
    rc, out = _run(spec, capfd)
    assert rc == 0, out
    assert {n: h for n, h in _hashes(folder).items() if n in before} == before
    [new] = _trained(folder, {**before, 2: ""})
    assert json.loads((folder / "trials" / f"{new:04d}" / "record.json").read_text())["params"] == params
    [moved] = list((folder / ".retired").iterdir())
    assert moved.name.startswith("0002-damaged") and (moved / "record.json").read_text() == truncated  # kept, not deleted


def test_a_study_that_contradicts_the_records_is_refused(finished: Path, tmp_path: Path,
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    from ferbench.run.train.space import distributions
    from ferbench.spec import load_spec

    spec, folder = _copy(finished, tmp_path)
    before = _hashes(folder)
    run_json = (folder / "run.json").read_bytes()
    other = f"sqlite:///{tmp_path / 'other.db'}"
    study = optuna.create_study(study_name=folder.name, storage=other)
    study.set_user_attr("spec_hash", json.loads(run_json)["spec_hash"])
    dists = distributions(load_spec(spec).search.space)
    record = json.loads((folder / "trials" / "0000" / "record.json").read_text())
    wrong = {k: (d.high if record["params"][k] != d.high else d.low) for k, d in dists.items()}  # type: ignore[attr-defined]
    study.add_trial(optuna.trial.create_trial(params=wrong, distributions=dists, value=0.5))
    rc, out = _run(spec, capfd, "--storage", other)
    assert rc == 2, out
    assert "disagrees with the records" in out and "--fresh" in out and "Traceback" not in out
    assert _hashes(folder) == before and (folder / "run.json").read_bytes() == run_json


def test_a_running_trial_with_a_record_is_finished_from_it(finished: Path, tmp_path: Path) -> None:
    """The process wrote the record and died before telling Optuna: the record wins, nothing is retrained."""
    from ferbench.devices import visible_gpus
    from ferbench.plan import plan_spec
    from ferbench.run.search.reconcile import reconcile
    from ferbench.run.session import RunSession
    from ferbench.spec import load_spec

    spec, folder = _copy(finished, tmp_path)
    (folder / "study.db").unlink()
    shutil.rmtree(folder / "trials" / "0001")
    shutil.rmtree(folder / "trials" / "0002")
    [planned] = plan_spec(load_spec(spec), gpus=visible_gpus()).runs
    session = RunSession(planned)
    study = open_run_study(session)
    record = json.loads((folder / "trials" / "0000" / "record.json").read_text())
    trial = study.ask()  # trial 0, RUNNING, as a process left it when it died
    for name, value in record["params"].items():
        trial.suggest_float(name, value, value) if isinstance(value, float) else trial.suggest_int(name, value, value)
    done = reconcile(study, session.spec, session.paths, session.run_id, owns_storage=True, storage_shown="study.db")
    assert done.finished == [0]
    [t] = study.trials
    assert t.state == optuna.trial.TrialState.COMPLETE and t.value == record["objective"]
    assert t.user_attrs["ferbench_record"] == record  # it carries its record, as a trial that finished normally does


def test_a_record_written_after_the_study_gave_its_trial_back_is_retired_and_re_run(
        finished: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Stopped between writing the record and telling Optuna: the study failed the trial and queued it again.

    The study counts it as not run, so the record is moved aside (kept) and the queued
    re-run trains it; the resume neither refuses nor counts the trial twice.
    """
    from ferbench.devices import visible_gpus
    from ferbench.plan import plan_spec
    from ferbench.results import load_run
    from ferbench.run.search import accounting as st
    from ferbench.run.search.reconcile import reconcile
    from ferbench.run.session import RunSession
    from ferbench.run.train.space import suggest
    from ferbench.spec import load_spec

    spec, folder = _copy(finished, tmp_path)
    (folder / "study.db").unlink()
    shutil.rmtree(folder / "trials" / "0001")
    shutil.rmtree(folder / "trials" / "0002")
    record_bytes = (folder / "trials" / "0000" / "record.json").read_bytes()
    record = json.loads(record_bytes)
    [planned] = plan_spec(load_spec(spec), gpus=visible_gpus()).runs
    session = RunSession(planned)
    study = open_run_study(session)
    study.enqueue_trial(record["params"])
    trial = study.ask()  # trial 0 as the interrupted process left it: failed without error, queued again
    assert suggest(trial, session.spec.search.space) == record["params"]
    trial.set_user_attr(st.ATTR_INTERRUPTED, True)
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    st.requeue(study, study.trials[0])
    done = reconcile(study, session.spec, session.paths, session.run_id, owns_storage=True, storage_shown="study.db")
    assert done.given_back == [0] and any("given them back" in m for m in done.messages())
    [kept] = list((folder / ".retired").iterdir())
    assert kept.name.startswith("0000-given-back") and (kept / "record.json").read_bytes() == record_bytes  # kept, not deleted
    assert not (folder / "trials" / "0000").exists()
    retries = [t for t in study.trials if t.user_attrs.get(st.ATTR_RETRY_OF) == 0]
    assert len(retries) == 1 and retries[0].state == optuna.trial.TrialState.WAITING  # not queued twice
    del session, study

    rc, out = _run(spec, capfd)
    assert rc == 0, out
    run = load_run(folder)
    assert run.info.trials.complete == 3 and len(run.trials) == 3
    again = next(t for t in run.trials if t.trial == retries[0].number)
    assert again.params == record["params"] and again.seed == record["seed"]


def test_a_trial_declared_dead_by_another_worker_is_kept_aside_and_its_copy_runs(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A host stalls past the heartbeat's grace period: another worker fails its trial and queues it again.

    When the stalled worker then tells the study, Optuna refuses ("Cannot tell a FAIL
    trial"); the run goes on instead of stopping with Optuna's assertion, the queued copy
    trains, and the stalled record is kept aside, never counted twice.
    """
    import ferbench.run.search.worker as worker
    from ferbench.run.search import accounting as st

    told = worker.tell_constraints

    def stalled(trial, rec) -> None:  # what the other worker's stale-trial callback does meanwhile
        told(trial, rec)
        if trial.number == 0:
            trial.study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
            st.requeue(trial.study, trial.study.get_trials(deepcopy=False)[0])

    monkeypatch.setattr(worker, "tell_constraints", stalled)
    spec = write_spec(tmp_path, name="stalled", trials=2, epochs=1)
    rc = main(["run", str(spec)])
    out = "".join(capfd.readouterr())
    assert rc == 0, out
    assert "trial 0 finished after another worker had declared it dead" in out and "Should not reach" not in out
    [folder] = [p.parent for p in (tmp_path / "results" / "stalled").glob("*/run.json")]
    assert json.loads((folder / "run.json").read_text())["trials"]["complete"] == 2
    assert sorted(int(p.parent.name) for p in folder.glob("trials/*/record.json")) == [1, 2]
    [kept] = list((folder / ".retired").iterdir())
    assert kept.name.startswith("0000-") and (kept / "record.json").exists()
