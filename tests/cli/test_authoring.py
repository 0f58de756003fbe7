"""What an editor and a pre-commit hook get from the command line: every problem at once,
as text or as JSON in the shape of ``ferbench schema problems``; the schema's installed
path; the ``$schema`` modeline ``ferbench new`` writes; the ``ferbench-validate`` hook."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml

from ferbench.cli.main import main
from ferbench.spec.authoring import schema_reference
from ferbench.spec.schema import schema_path

REPO = Path(__file__).resolve().parents[2]

TWO_MISTAKES = """\
ferbench: 1
name: two
dataset: {kind: synthetic, image_size: 32}
train: {batch_size: big}
search:
  trials: 2
  space:
    width: {float: [1.4, 0.2]}
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_a_schema_error_and_a_semantic_error_are_both_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("two.yaml").write_text(TWO_MISTAKES)
    assert main(["validate", "two.yaml"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["two.yaml:4:21: train.batch_size: expected integer, got string 'big'",
                   "two.yaml:8:20: search.space.width.float: low must be < high, got 1.4 >= 0.2",
                   "1 of 1 spec(s) invalid"]


def test_every_problem_of_a_spec_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    Path("many.yaml").write_text("""\
ferbench: 1
name: many
dataset: {kind: synthetic, image_size: 32, bogus: 1}
train: 7
model: {stages: [1, 2], width: x}
evaluate:
  on:
    - {name: Bad Name, dataset: {kind: synthetic}}
search:
  trials: 2
  space:
    depth: {float: [1.4, 0.2]}
""")
    assert main(["validate", "many.yaml"]) == 2
    assert [line.split(": ")[1] for line in capsys.readouterr().err.splitlines()[:-1]] == [
        "dataset.bogus", "train", "model.stages", "model.width", "evaluate.on[0].name", "search.space.depth.float"]


def test_json_output_follows_its_own_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("two.yaml").write_text(TWO_MISTAKES)
    Path("good.yaml").write_text(TWO_MISTAKES.replace("big", "32").replace("[1.4, 0.2]", "[0.2, 1.4]"))
    Path("warn.yaml").write_text(TWO_MISTAKES.replace("big", "32").replace("[1.4, 0.2]", "[0.2, 1.4]")
                                 + "runtime: {devices: cpu, precision: mixed_float16}\n")
    assert main(["schema", "problems"]) == 0
    problems_schema = json.loads(capsys.readouterr().out)
    assert main(["validate", "--format", "json", "two.yaml", "good.yaml", "warn.yaml"]) == 2
    out = capsys.readouterr()
    doc = json.loads(out.out)
    jsonschema.Draft202012Validator(problems_schema).validate(doc)
    assert out.err == ""
    assert doc["files"] == [{"file": "two.yaml", "valid": False}, {"file": "good.yaml", "valid": True}, {"file": "warn.yaml", "valid": True}]
    assert [(p["file"], p["line"], p["column"], p["key"], p["severity"]) for p in doc["problems"]] == [
        ("two.yaml", 4, 21, "train.batch_size", "error"), ("two.yaml", 8, 20, "search.space.width.float", "error"),
        ("warn.yaml", 9, 36, "runtime.precision", "warning")]
    assert main(["validate", "--format", "json", "good.yaml"]) == 0
    jsonschema.Draft202012Validator(problems_schema).validate(json.loads(capsys.readouterr().out))
    assert main(["validate", "--format", "xml", "good.yaml"]) == 2


def test_install_path_names_the_file_schema_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--install-path"]) == 0
    where = Path(capsys.readouterr().out.strip())
    assert where.is_file() and where == schema_path()
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == where.read_text(encoding="utf-8")


def test_new_writes_a_modeline_that_resolves_to_the_schema(tmp_path: Path) -> None:
    assert main(["new", "mine", "--from", "fer2013"]) == 0
    first, second = Path("mine.yaml").read_text().splitlines()[:2]
    assert first == f"# yaml-language-server: $schema={schema_reference(tmp_path / 'mine.yaml')}" and "$schema" not in second
    assert schema_reference(tmp_path / "mine.yaml") in (schema_path().resolve().as_uri(), os.path.relpath(schema_path(), tmp_path))
    # In a checkout the spec and the schema move together: a relative path.
    (tmp_path / "proj" / "schemas").mkdir(parents=True)
    schema = tmp_path / "proj" / "schemas" / "spec.schema.json"
    schema.write_text("{}")
    assert schema_reference(tmp_path / "proj" / "benchmarks" / "x.yaml", schema) == "../schemas/spec.schema.json"
    assert schema_reference(tmp_path / "proj" / "x.yaml", schema) == "schemas/spec.schema.json"
    assert schema_reference(tmp_path / "elsewhere" / "x.yaml", schema) == schema.resolve().as_uri()


def test_the_pre_commit_hook_validates_spec_files() -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "ferbench-validate" and hook["entry"] == "ferbench validate" and hook["language"] == "system"
    assert hook["files"] and hook["types"] == ["yaml"]
