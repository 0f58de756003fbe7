"""One truth per report: the frontier and the comparison show the same numbers, a best trial that is
not the best of the records is warned about (and corrected by collect), unfinished runs are marked."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from report_helpers import run_dir

from ferbench.cli.main import main


def _blocks(text: str) -> dict[str, list[dict[str, str]]]:
    """CSV report -> {table title: rows}."""
    out: dict[str, list[dict[str, str]]] = {}
    for block in text.strip().split("\n\n"):
        title, _, body = block.partition("\n")
        out[title.lstrip("# ")] = list(csv.DictReader(io.StringIO(body)))
    return out


def _edit(path: Path, **changes: object) -> dict:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))
    return data


def test_the_frontier_and_the_comparison_show_the_same_accuracy(results_copy: Path, capfd: pytest.CaptureFixture[str]) -> None:
    run = run_dir(results_copy, "scaled_fer2013")
    info = _edit(run / "run.json", pareto=[json.loads((run / "run.json").read_text())["best_trial"]])
    record = run / "trials" / f"{info['best_trial']:04d}" / "record.json"
    rec = json.loads(record.read_text())
    rec["metrics"]["test"]["accuracy"] = 0.99  # the record disagrees with its own predictions
    record.write_text(json.dumps(rec))
    assert main(["report", str(run), "--compare", "-f", "csv"]) == 0
    blocks = _blocks(capfd.readouterr().out)
    [compared] = [r for t, rows in blocks.items() if "Comparison on" in t for r in rows if r["model"].startswith("scaled_fer2013")]
    [front] = [r for t, rows in blocks.items() if "frontier" in t for r in rows if r["model"].startswith("scaled_fer2013")]
    assert float(front["accuracy"]) == pytest.approx(float(compared["accuracy"])) and float(front["accuracy"]) != 0.99


def test_a_best_trial_that_is_not_the_best_is_warned_about_and_collect_corrects_it(
        results_copy: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    run = run_dir(results_copy, "scaled_fer2013")
    objective = {p.parent.name: json.loads(p.read_text())["objective"] for p in run.glob("trials/*/record.json")}
    best, worst = min(objective, key=objective.__getitem__), max(objective, key=objective.__getitem__)
    _edit(run / "run.json", best_trial=int(worst))
    assert main(["report", str(run), "--no-plots"]) == 0
    out = capfd.readouterr().out
    assert f"run.json names trial {int(worst)} the best" in " ".join(out.split())
    merged = tmp_path / "merged"
    assert main(["collect", str(run), "--into", str(merged)]) == 0
    assert json.loads((merged / "run.json").read_text())["best_trial"] == int(best)
    capfd.readouterr()
    assert main(["report", str(merged), "--no-plots"]) == 0
    assert "names trial" not in capfd.readouterr().out


def test_an_interrupted_run_is_marked_where_it_is_ranked(results_copy: Path, capfd: pytest.CaptureFixture[str]) -> None:
    run = run_dir(results_copy, "scaled_fer2013")
    info = _edit(run / "run.json", status="interrupted")
    t = info["trials"]
    assert main(["report", str(results_copy), "--compare", "-f", "csv"]) == 0
    rows = [r for rows in _blocks(capfd.readouterr().out).values() for r in rows if r.get("model", "").startswith("scaled_fer2013")]
    done = t["complete"] + t["failed"] + t["pruned"]
    assert rows and all(f"(interrupted, {done}/{t['target']} trials)" in r["model"] for r in rows)


def test_an_interrupted_run_is_marked_in_the_paired_tests(results_copy: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The McNemar table tests runs against each other: an unfinished one carries the same mark as in the rankings."""
    run = run_dir(results_copy, "scaled_fer2013")
    info = _edit(run / "run.json", status="interrupted")
    t = info["trials"]
    mark = f"scaled_fer2013 (interrupted, {t['complete'] + t['failed'] + t['pruned']}/{t['target']} trials)"
    assert main(["report", str(results_copy), "--compare", "-f", "csv"]) == 0
    [pairs] = [rows for title, rows in _blocks(capfd.readouterr().out).items() if "Paired tests" in title]
    assert pairs, "the fixture's two FER2013 runs are tested against each other"
    for row in pairs:
        names = {row["a"], row["b"]}
        assert mark in names, row  # before: the plain name, as if the run had finished
        assert all(n == mark or "(" not in n for n in names), row  # the finished run carries no mark


def _record_failing_its_schema(run: Path) -> None:
    _edit(run / "trials" / "0001" / "record.json", state="exploded")


def _best_predictions_missing(run: Path) -> None:
    (run / "trials" / f"{json.loads((run / 'run.json').read_text())['best_trial']:04d}" / "predictions.npz").unlink()


def _counts_disagree_with_the_trials(run: Path) -> None:
    info = json.loads((run / "run.json").read_text())
    _edit(run / "run.json", trials={**info["trials"], "complete": info["trials"]["complete"] + 4})


@pytest.mark.parametrize("damage", [_record_failing_its_schema, _best_predictions_missing, _counts_disagree_with_the_trials],
                         ids=["record-failing-its-schema", "predictions-missing", "counts-disagree"])
def test_collect_writes_only_what_report_reads(damage: Callable[[Path], None], results_copy: Path, tmp_path: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    """Collect and report agree on every damaged folder: both refuse it (collect writing nothing), or both read it.

    Before: a run.json counting more trials than its records was collected (exit 0) into a folder report refused.
    """
    run = run_dir(results_copy, "scaled_fer2013")
    damage(run)
    report_rc = main(["report", str(run), "--no-plots", "-f", "csv"])
    merged = tmp_path / "merged"
    collect_rc = main(["collect", str(run), "--into", str(merged)])
    err = capfd.readouterr().err
    assert report_rc == collect_rc, err
    if collect_rc == 0:
        assert main(["report", str(merged), "--no-plots", "-f", "csv"]) == 0, capfd.readouterr().err
    else:
        assert collect_rc == 2 and not merged.exists() and not list(tmp_path.glob(".merged*")), err
