"""Reading results folders: the contract's schemas, and clear messages when a folder is wrong."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from report_helpers import run_dir, squeeze_md
from typer.testing import CliRunner

from ferbench.cli.report import app
from ferbench.errors import ResultsError
from ferbench.results import SCHEMA_VERSION, find_run_dirs, load_runs, record_problems, run_problems


def _edit(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _cli(*args: str):
    return CliRunner().invoke(app, [*args, "--no-plots"])


def test_fixture_is_valid_against_the_schemas(results_dir: Path):
    runs = load_runs([results_dir])
    assert sorted(r.spec_name for r in runs) == ["baseline_fer2013", "scaled_affectnet", "scaled_fer2013"]
    for p in results_dir.rglob("run.json"):
        assert run_problems(json.loads(p.read_text())) == []
    records = list(results_dir.rglob("record.json"))
    assert len(records) == 9
    for p in records:
        assert record_problems(json.loads(p.read_text())) == [], p
    base = next(r for r in runs if r.spec_name == "baseline_fer2013")
    assert [t.state for t in base.trials] == ["complete", "complete", "complete", "failed"]
    assert base.best is not None and base.best.number == 0 and base.dataset == "fer2013"
    assert base.compare_ids == ["human_fer2013", "khanzada2020_vgg16", "thesis_baseline_fer2013"]


def test_a_run_folder_or_a_folder_of_runs(results_dir: Path):
    one = run_dir(results_dir, "scaled_fer2013")
    assert find_run_dirs([one]) == [one]
    assert find_run_dirs([one / "run.json"]) == [one]
    assert len(find_run_dirs([results_dir, one])) == 3  # the same run twice counts once


def test_nothing_to_report(tmp_path: Path):
    with pytest.raises(ResultsError, match="nothing to report: no run.json under"):
        find_run_dirs([tmp_path])
    res = _cli(str(tmp_path))
    assert res.exit_code == 2
    assert "error: nothing to report" in res.output and "Traceback" not in res.output


def test_missing_path(tmp_path: Path):
    res = _cli(str(tmp_path / "nope"))
    assert res.exit_code == 2 and "no such file or folder" in res.output


def test_run_json_missing(results_copy: Path):
    d = run_dir(results_copy, "scaled_fer2013")
    (d / "run.json").unlink()
    res = _cli(str(results_copy))
    assert res.exit_code == 2
    assert f"{d}: incomplete results folder: run.json is missing" in res.output


def test_record_missing_in_a_complete_run(results_copy: Path):
    d = run_dir(results_copy, "scaled_fer2013")
    (d / "trials" / "0001" / "record.json").unlink()
    with pytest.raises(ResultsError, match=r"incomplete results folder: .*trials/0001/record.json: missing"):
        load_runs([results_copy])


def test_record_missing_while_running_is_a_warning(results_copy: Path):
    d = run_dir(results_copy, "scaled_fer2013")
    _edit(d / "run.json", status="running", trials={"target": 3, "complete": 2, "failed": 0, "pruned": 0})
    (d / "trials" / "0002" / "record.json").unlink()
    (run,) = [r for r in load_runs([results_copy]) if r.spec_name == "scaled_fer2013"]
    assert len(run.trials) == 2
    assert any("trial not finished; skipped" in w for w in run.warnings)


def test_corrupt_record(results_copy: Path):
    d = run_dir(results_copy, "baseline_fer2013")
    (d / "trials" / "0002" / "record.json").write_text('{"schema_version": 1, "run_id": ')
    res = _cli(str(results_copy))
    assert res.exit_code == 2
    assert "trials/0002/record.json: corrupt JSON" in res.output


def test_record_breaking_the_schema_names_the_field(results_copy: Path):
    p = run_dir(results_copy, "baseline_fer2013") / "trials" / "0001" / "record.json"
    rec = json.loads(p.read_text())
    rec["metrics"]["test"]["accuracy"] = 65.8
    del rec["timings"]
    p.write_text(json.dumps(rec))
    with pytest.raises(ResultsError) as exc:
        load_runs([results_copy])
    text = str(exc.value)
    assert f"{p}: metrics.test.accuracy: 65.8 is greater than the maximum of 1" in text
    assert f"{p}: (top): 'timings' is a required property" in text


@pytest.mark.parametrize("which", ["run", "record"])
def test_newer_schema_version(results_copy: Path, which: str):
    d = run_dir(results_copy, "scaled_affectnet")
    target = d / "run.json" if which == "run" else d / "trials" / "0000" / "record.json"
    _edit(target, schema_version=SCHEMA_VERSION + 1)
    res = _cli(str(results_copy), "--compare")
    assert res.exit_code == 2
    assert f"{target}: schema_version {SCHEMA_VERSION + 1} is newer than this ferbench reads ({SCHEMA_VERSION}); upgrade ferbench" in res.output


def test_record_from_another_run(results_copy: Path):
    src = run_dir(results_copy, "scaled_fer2013") / "trials" / "0000"
    dst = run_dir(results_copy, "baseline_fer2013") / "trials" / "0009"
    shutil.copytree(src, dst)
    with pytest.raises(ResultsError, match="does not match run.json"):
        load_runs([results_copy])


def test_corrupt_predictions(results_copy: Path):
    d = run_dir(results_copy, "scaled_fer2013")
    (d / "trials" / "0000" / "predictions.npz").write_bytes(b"not a zip")
    res = _cli(str(d))
    assert res.exit_code == 2 and "predictions.npz: corrupt" in res.output


def test_missing_predictions_fall_back_to_the_record(results_copy: Path):
    d = run_dir(results_copy, "scaled_fer2013")
    (d / "trials" / "0000" / "predictions.npz").unlink()
    res = _cli(str(d), "--format", "markdown")
    assert res.exit_code == 0, res.output
    assert "| Accuracy | 0.686 | 0.676 |" in squeeze_md(res.output)  # the record's numbers, no interval
    assert "metrics are the record's, without confidence intervals" in res.output


def test_no_complete_trial_yet(results_copy: Path):
    d = run_dir(results_copy, "scaled_affectnet")
    _edit(d / "run.json", status="running", best_trial=None, trials={"target": 2, "complete": 0, "failed": 0, "pruned": 0})
    shutil.rmtree(d / "trials")
    res = _cli(str(d))
    assert res.exit_code == 2
    assert "nothing to report: no run has a complete trial yet: scaled_affectnet (running)" in res.output


def test_committed_fixture_is_what_the_generator_writes(results_dir: Path, tmp_path: Path):
    import numpy as np
    from make_fixture import make

    fresh = make(tmp_path / "fresh")
    committed = sorted(p.relative_to(results_dir) for p in results_dir.rglob("*") if p.is_file())
    assert committed == sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    for rel in committed:
        a, b = results_dir / rel, fresh / rel
        if rel.suffix == ".npz":
            with np.load(a) as x, np.load(b) as y:
                assert all(np.array_equal(x[k], y[k]) for k in x.files), rel
        else:
            assert a.read_text() == b.read_text(), rel


def _doc_keys(section: str) -> set[str]:
    """Keys in the first column of a table under ``## section`` in docs/results-format.md."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "results-format.md").read_text(encoding="utf-8")
    body = doc.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    keys: set[str] = set()
    for line in body.splitlines():
        m = re.match(r"\| ((?:`[a-z_]+`(?:, )?)+) \|", line)
        if m:
            keys |= set(re.findall(r"`([a-z_]+)`", m.group(1)))
    return keys


@pytest.mark.parametrize("section, schema", [("run.json", "run.schema.json"), ("trials/<n>/record.json", "record.schema.json"),
                                             ("trials/<n>/exports/<format>/export.json", "export.schema.json")])
def test_schemas_follow_the_results_format_doc(section: str, schema: str):
    from ferbench.spec.schema import load_schema

    props = set(load_schema(schema)["properties"])
    assert _doc_keys(section) == props
