"""Folders of one run, one per host: read as one run, collected into one, refused when they disagree.

The committed fixture run (3 trials, written before run.json said which trials a
folder holds) is split into two host folders the way workers on two hosts without
a shared filesystem leave them: each holds its own trials, names its host, and
counts the whole study. No TensorFlow, no Optuna.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ferbench.cli.main import main
from ferbench.errors import ResultsError
from ferbench.results import load_run, load_runs, read_run_record, run_problems

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "results"


def _fixture_run(spec: str) -> Path:
    (d,) = [p.parent for p in (FIXTURE / spec).glob("*/run.json")]
    return d


def _host(src: Path, root: Path, host: str, keep: tuple[int, ...], best: int | None = None) -> Path:
    """``root/<host>/results/<spec>/<run id>`` holding only trials ``keep`` of ``src``, as that host's worker writes it."""
    dst = root / host / "results" / src.parent.name / src.name
    shutil.copytree(src, dst)
    for t in (dst / "trials").iterdir():
        if int(t.name) not in keep:
            shutil.rmtree(t)
    info = json.loads((dst / "run.json").read_text())
    info.update(schema_version=2, hosts=[host], holds=sorted(keep), devices=["gpu:0"])
    assert run_problems(info) == []
    (dst / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    if best is not None:  # this host's own best model so far
        (dst / "best").mkdir()
        (dst / "best" / "model.keras").write_bytes(f"model of trial {best} from {host}".encode())
        (dst / "best" / "best.json").write_text(json.dumps({"run_id": info["run_id"], "trial": best, "objective": 1.0}))
    return dst


@pytest.fixture
def hosts(tmp_path: Path) -> tuple[Path, Path]:
    """scaled_fer2013 (best trial 0) run by two hosts: a has trials 1 and 2, b has trial 0 and the best model."""
    src = _fixture_run("scaled_fer2013")
    return _host(src, tmp_path, "host-a", (1, 2), best=1), _host(src, tmp_path, "host-b", (0,), best=0)


def _cli(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capfd.readouterr()
    return rc, out, err


def _records(folder: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in folder.glob("trials/*/record.json")}


# --- reading several folders as one run ------------------------------------------------------


def test_a_partial_folder_alone_says_what_it_holds_and_where_to_go(hosts: tuple[Path, Path],
                                                                     capfd: pytest.CaptureFixture[str]) -> None:
    a, _ = hosts
    with pytest.raises(ResultsError) as exc:
        load_run(a)
    text = str(exc.value)
    assert text.count("\n") == 0
    assert f"{a}: holds 2 of the run's 3 finished trials (trials 1, 2 from host-a)" in text
    assert "ferbench collect" in text and "--storage URL --spec SPEC" in text
    rc, _, err = _cli(capfd, "report", str(a))
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "holds 2 of the run's 3" in err


def test_folders_of_one_run_id_are_one_run(hosts: tuple[Path, Path], capfd: pytest.CaptureFixture[str]) -> None:
    a, b = hosts
    [run] = load_runs([a.parents[2], b.parents[2]])  # found under each host's results/
    assert [t.trial for t in run.trials] == [0, 1, 2] and run.folders == (a, b)
    assert run.homes == {0: b, 1: a, 2: a}
    assert run.best is not None and run.best.trial == 0 and run.has_predictions(run.best)  # from b's folder
    assert run.info.hosts == ("host-a", "host-b") and run.info.holds == (0, 1, 2)
    assert any("read from 2 folders" in w and "trials 1, 2 from host-a" in w for w in run.warnings)
    rc, out, err = _cli(capfd, "report", str(a), str(b), "--compare", "--format", "json", "--no-plots")
    assert rc == 0, err
    [data] = json.loads(out)["runs"]
    assert data["folders"] == [str(a), str(b)] and [t["trial"] for t in data["trials"]] == [0, 1, 2]
    assert data["test"]["from_predictions"] is True  # the best trial's predictions were found in b's folder


# --- collect ---------------------------------------------------------------------------------


def test_collect_merges_the_hosts_byte_for_byte(hosts: tuple[Path, Path], tmp_path: Path,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    a, b = hosts
    into = tmp_path / "merged"
    rc, out, err = _cli(capfd, "collect", str(a), str(b), "--into", str(into))
    assert rc == 0, err
    assert "3 trial(s) (3 copied" in out
    merged = _records(into)
    assert merged == {**_records(a), **_records(b)} and sorted(merged) == ["0000", "0001", "0002"]
    for n, src in (("0000", b), ("0001", a), ("0002", a)):
        for name in ("record.json", "history.csv", "predictions.npz"):
            if (src / "trials" / n / name).exists():
                assert (into / "trials" / n / name).read_bytes() == (src / "trials" / n / name).read_bytes()
    assert (into / "best" / "model.keras").read_bytes() == b"model of trial 0 from host-b"  # the run's best, not a's
    assert (into / "spec.resolved.yaml").read_bytes() == (a / "spec.resolved.yaml").read_bytes()
    info = read_run_record(into / "run.json")
    assert info.holds == (0, 1, 2) and info.hosts == ("host-a", "host-b") and info.status == "complete"
    assert info.best_trial == 0 and info.devices == ("gpu:0",)
    run = load_run(into)
    assert len(run.trials) == 3 and not any("missing" in w for w in run.warnings)
    rc, _, err = _cli(capfd, "report", str(into), "--compare", "--format", "markdown", "--no-plots")
    assert rc == 0, err

    # Again (a host that finished later, or twice by mistake): nothing in the destination is rewritten.
    stamps = {p: p.stat().st_mtime_ns for p in into.glob("trials/*/*")}
    rc, out, err = _cli(capfd, "collect", str(a), str(b), "--into", str(into))
    assert rc == 0 and "0 copied" in out and "3 there already" in out, out + err
    assert {p: p.stat().st_mtime_ns for p in into.glob("trials/*/*")} == stamps


def test_collect_into_one_hosts_folder_adds_the_others(hosts: tuple[Path, Path], capfd: pytest.CaptureFixture[str]) -> None:
    a, b = hosts
    before = _records(a)
    rc, _, err = _cli(capfd, "collect", str(b), "--into", str(a))
    assert rc == 0, err
    assert {k: v for k, v in _records(a).items() if k in before} == before and sorted(_records(a)) == ["0000", "0001", "0002"]
    assert load_run(a).info.holds == (0, 1, 2)


def _one_line_refusal(capfd: pytest.CaptureFixture[str], *args: str) -> str:
    rc, out, err = _cli(capfd, *args)
    assert rc == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_collect_refuses_folders_of_two_runs(hosts: tuple[Path, Path], tmp_path: Path,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    a, _ = hosts
    other = _fixture_run("baseline_fer2013")
    into = tmp_path / "merged"
    line = _one_line_refusal(capfd, "collect", str(a), str(other), "--into", str(into))
    assert f"{other} is run {other.name} (baseline_fer2013) but {a} is run {a.name} (scaled_fer2013)" in line
    assert not into.exists()  # nothing written
    line = _one_line_refusal(capfd, "collect", str(a), "--into", str(other))
    assert "only folders of one run are merged" in line


def test_two_different_records_of_one_trial_are_refused(hosts: tuple[Path, Path], tmp_path: Path,
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    a, b = hosts
    record = b / "trials" / "0000" / "record.json"
    shutil.copytree(b / "trials" / "0000", a / "trials" / "0000")
    data = json.loads(record.read_text())
    data["finished"] = "2031-01-01T00:00:00Z"  # the same trial number, recorded differently
    (a / "trials" / "0000" / "record.json").write_text(json.dumps(data, indent=2) + "\n")
    into = tmp_path / "merged"
    line = _one_line_refusal(capfd, "collect", str(a), str(b), "--into", str(into))
    assert "trial 0:" in line and "differ" in line and "nothing was collected" in line
    assert not into.exists()
    # A destination that already holds another record of the trial keeps it: refused, not rewritten.
    shutil.copytree(a, into)
    kept = (into / "trials" / "0000" / "record.json").read_bytes()
    _one_line_refusal(capfd, "collect", str(b), "--into", str(into))
    assert (into / "trials" / "0000" / "record.json").read_bytes() == kept
    # report refuses to blend them too.
    rc, _, err = _cli(capfd, "report", str(a), str(b))
    assert rc == 2 and "trial 0:" in err and "differ" in err


def test_a_damaged_record_is_not_collected(hosts: tuple[Path, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    a, b = hosts
    (a / "trials" / "0001" / "record.json").write_text('{"schema_version": 2, "run_id"')
    line = _one_line_refusal(capfd, "collect", str(a), str(b), "--into", str(tmp_path / "merged"))
    assert "trials/0001/record.json: corrupt JSON" in line


# --- a run made before this change ----------------------------------------------------------------


def test_a_run_from_before_still_reports_and_collects(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    src = _fixture_run("scaled_fer2013")  # schema 1 records, run.json without hosts or holds
    assert "holds" not in json.loads((src / "run.json").read_text())
    rc, out, err = _cli(capfd, "report", str(src), "--format", "json", "--no-plots")
    assert rc == 0, err
    assert [t["trial"] for t in json.loads(out)["runs"][0]["trials"]] == [0, 1, 2]
    into = tmp_path / "copy"
    rc, _, err = _cli(capfd, "collect", str(src), "--into", str(into))
    assert rc == 0, err
    assert _records(into) == _records(src)
    info = read_run_record(into / "run.json")
    assert info.holds == (0, 1, 2) and info.hosts == ("fixture",)  # the host of its environment
    assert load_run(into).best is not None
