"""The command line as users run it: exit codes, located errors, lazy imports, plans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "FERBENCH_DATA": "/data", "PYTHONPATH": str(REPO)}


def ferbench(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ferbench", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120)


def test_validate_all_benchmarks():
    specs = sorted(str(p.relative_to(REPO)) for p in (REPO / "benchmarks").glob("*.yaml"))
    assert len(specs) >= 5
    r = ferbench("validate", *specs)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ok  ") == len(specs)


BAD = {
    "types.yaml": "ferbench: 1\nname: t\ndataset: {kind: synthetic}\ntrain: {max_epochs: ten}\n",
    "typo.yaml": "ferbench: 1\nname: t\ndataset: {kind: synthetic}\nmodle: {width: 1.0}\n",
    "range.yaml": "ferbench: 1\nname: t\ndataset: {kind: synthetic}\nsearch:\n  space:\n    width: {float: [1.4, 0.2]}\n",
    "dupe.yaml": "ferbench: 1\nname: t\nname: u\ndataset: {kind: synthetic}\n",
    "broken.yaml": "ferbench: 1\nname: [t\ndataset: {kind: synthetic}\n",
    "bomb.yaml": "a: &a [1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, c in zip("abcdefgh", "bcdefghi")),
    "deep.yaml": "a: " + "[" * 1000 + "]" * 1000 + "\n",
    "tag.yaml": "ferbench: 1\nname: !!python/object/apply:os.system ['true']\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_invalid_spec_gives_one_located_line_and_exit_2(tmp_path, name):
    (tmp_path / name).write_text(BAD[name])
    r = ferbench("validate", name, cwd=tmp_path)
    assert r.returncode == 2
    lines = [l for l in r.stderr.splitlines() if l.startswith(name)]
    assert len(lines) == 1, r.stderr
    assert lines[0].split(":")[1].isdigit() and lines[0].split(":")[2].isdigit()
    assert "Traceback" not in r.stderr + r.stdout


def test_huge_file_is_refused_quickly(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * (50 * 1024 * 1024) + b"\n")
    r = ferbench("validate", "big.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "larger than" in r.stderr and "Traceback" not in r.stderr


def test_plan_json_two_runs_identical_across_calls():
    a = ferbench("plan", "benchmarks/weighted_vs_unweighted_fer2013.yaml", "--json")
    b = ferbench("plan", "benchmarks/weighted_vs_unweighted_fer2013.yaml", "--json")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    runs = json.loads(a.stdout)["runs"]
    assert [r["matrix_cell"] for r in runs] == [{"loss.class_weight": "none"}, {"loss.class_weight": "inverse_frequency"}]
    assert len({r["run_id"] for r in runs}) == 2
    assert all(r["trials"] == 50 and r["max_epochs"] == 60 for r in runs)


def _in_process(capfd: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``ferbench ARGS`` (from the repository, data under /data) through the CLI's entry point in this process."""
    from ferbench.cli.main import main

    capfd.readouterr()
    rc = main(list(args))
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(["ferbench", *args], rc, out, err)


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("FERBENCH_DATA", ENV["FERBENCH_DATA"])


def test_plan_set_fixes_a_searched_value_and_says_so(in_repo, capfd):
    r = _in_process(capfd, "plan", "benchmarks/scaled_fer2013.yaml", "--json", "--set", "model.width=1.0")
    assert r.returncode == 0, r.stderr
    (run,) = json.loads(r.stdout)["runs"]
    assert "width" not in [p["name"] for p in run["space"]] and run["fixed"]["width"] == 1.0
    assert any("width fixed at 1.0" in n for n in run["notes"])
    r2 = _in_process(capfd, "plan", "benchmarks/scaled_fer2013.yaml")
    assert r2.returncode == 0 and "params" in r2.stdout


def test_plan_hides_storage_password(in_repo, capfd):
    r = _in_process(capfd, "plan", "benchmarks/quickstart.yaml", "--json", "--storage", "postgresql://alice:s3cret@db:5432/optuna")
    assert "s3cret" not in r.stdout + r.stderr
    assert json.loads(r.stdout)["runs"][0]["storage"] == "postgresql://alice:***@db:5432/optuna"


LIGHT_COMMANDS = [
    ["validate", "benchmarks/quickstart.yaml"],
    ["validate", "--format", "json", "benchmarks/quickstart.yaml"],
    ["validate", "benchmarks/quickstart.yaml", "--set", "tracking.mlflow.uri=http://127.0.0.1:5000", "--set", "tracking.tensorboard=true"],
    ["plan", "benchmarks/scaled_fer2013.yaml"],
    ["model", "list"],
    ["schema"],
    ["new", "x", "--out", "{tmp}/x.yaml"],
]


@pytest.mark.parametrize("args", LIGHT_COMMANDS, ids=lambda a: a[0])
def test_light_commands_do_not_import_tensorflow_or_optuna(tmp_path, args):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code = (
        "import sys\nfrom ferbench.cli.main import main\n"
        f"rc = main({args!r})\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'optuna', 'cv2', 'mtcnn', 'mlflow', 'tensorboard', 'tf2onnx', 'onnxruntime') if m in sys.modules)\n"
        "print('HEAVY', heavy, rc)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert "HEAVY [] 0" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("template", ["quickstart", "fer2013", "affectnet", "folder", "rafdb", "affectnet8", "ckplus", "cross_dataset"])
def test_new_writes_a_spec_that_validates(tmp_path, template, capfd, monkeypatch):
    from ferbench.cli.main import main  # the entry point in process: these are light commands, no start-up to check

    monkeypatch.setenv("FERBENCH_DATA", ENV["FERBENCH_DATA"])
    monkeypatch.chdir(tmp_path)
    assert main(["new", "my_exp", "--from", template]) == 0, capfd.readouterr().err
    assert main(["validate", "my_exp.yaml"]) == 0, capfd.readouterr().err
    assert "ok  " in capfd.readouterr().out


def test_schema_prints_valid_json_and_version():
    assert json.loads(ferbench("schema").stdout)["title"] == "ferbench spec"
    from ferbench import __version__

    assert ferbench("--version").stdout.strip() == f"ferbench {__version__}"


def test_readme_spec_reference_matches_schema():
    from ferbench.spec.reference import render

    readme = (REPO / "README.md").read_text()
    assert render() in readme, "README spec reference is stale: run `python -m ferbench.spec.reference` and paste it"


def test_validate_checks_baseline_ids_without_the_report_package():
    # report.compare is checked against the built-in registry; that must not pull in the
    # report's modules (pandas, matplotlib, the baselines JSON Schema) nor make a cycle with them.
    # (The CLI reads the report's format names from ferbench.report.formats, which imports nothing.)
    code = (
        "import sys\nfrom ferbench.cli.main import main\n"
        "rc = main(['validate', 'benchmarks/scaled_fer2013.yaml', '--set', 'report.compare=[no_such_baseline]'])\n"
        "light = ('ferbench.report', 'ferbench.report.formats')\n"
        "loaded = sorted(m for m in sys.modules if m in ('pandas', 'matplotlib')\n"
        "                or (m.startswith('ferbench.report') and m not in light))\n"
        "print('LOADED', loaded, rc)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert "LOADED [] 2" in r.stdout, r.stdout + r.stderr
    assert "unknown baseline 'no_such_baseline'" in r.stderr
