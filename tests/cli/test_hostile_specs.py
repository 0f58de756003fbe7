"""Hostile input to every command that reads a spec: one located line, exit 2, never a traceback.

Every command x every class of bad spec file. The commands run in-process through the
public entry point, so an exception that escapes it fails the test with its traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ferbench.cli.main import main

REPO = Path(__file__).resolve().parents[2]
SPEC = "spec.yaml"
HEADER = "ferbench: 1\nname: hostile\ndataset: {kind: synthetic}\n"


def _write(text: str | bytes) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        target = d / SPEC
        target.write_bytes(text if isinstance(text, bytes) else text.encode())

    return make


def _folder(d: Path) -> None:
    (d / SPEC).mkdir()


def _missing(d: Path) -> None:
    pass


def _extends_loop(d: Path) -> None:
    (d / "loop.yaml").symlink_to("loop2.yaml")
    (d / "loop2.yaml").symlink_to("loop.yaml")
    (d / SPEC).write_text(HEADER + "extends: loop.yaml\n")


#: Classes of bad spec input: how to make one in a folder (the spec is always spec.yaml).
BAD_INPUT: dict[str, Callable[[Path], None]] = {
    "directory": _folder,
    "missing file": _missing,
    "binary file": _write(bytes(range(256)) * 8),
    "binary file that is UTF-8": _write("ferbench: 1\nname: \x00\x01\x02\n"),
    "empty file": _write(""),
    "invalid YAML": _write("ferbench: 1\nname: [hostile\ndataset: {kind: synthetic}\n"),
    "huge integer": _write(HEADER + "seed: " + "9" * 5000 + "\n"),
    "NaN": _write(HEADER + "model: {width: .nan}\n"),
    "infinity": _write(HEADER + "train: {learning_rate: .inf}\n"),
    "extends loop (symlink)": _extends_loop,
    "extends missing": _write(HEADER + "extends: nowhere.yaml\n"),
    "not a mapping": _write("- ferbench: 1\n- name: hostile\n"),
    "bad value for its tag": _write(HEADER + "augment: {enabled: !!bool maybe}\n"),
}

COMMANDS: dict[str, list[str]] = {
    "validate": ["validate", SPEC],
    "plan": ["plan", SPEC],
    "run": ["run", SPEC],
    "data describe": ["data", "describe", SPEC],
    "model summary": ["model", "summary", SPEC],
    "new --from": ["new", "copy", "--from", SPEC],
}

#: The one stderr line that may come besides the error: validate's summary.
SUMMARY = "1 of 1 spec(s) invalid"


@pytest.mark.parametrize("bad", sorted(BAD_INPUT))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_bad_spec_gives_one_line_naming_the_file_and_exit_2(tmp_path, monkeypatch, capfd, command, bad):
    monkeypatch.chdir(tmp_path)
    BAD_INPUT[bad](tmp_path)
    heavy_before = "tensorflow" in sys.modules
    rc = main(COMMANDS[command])
    out, err = capfd.readouterr()
    assert rc == 2, out + err
    assert "Traceback" not in out + err
    naming = [line for line in err.splitlines() if SPEC in line]
    assert len(naming) == 1, err
    assert [line for line in err.splitlines() if SPEC not in line] in ([], [SUMMARY]), err
    if not heavy_before:  # the spec is refused before TensorFlow is imported
        assert "tensorflow" not in sys.modules
    if command == "new --from":  # nothing is written from a source that is not a spec
        assert not (tmp_path / "copy.yaml").exists()
    if command == "run":
        assert not (tmp_path / "results").exists()


def test_errors_with_a_position_give_it(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    for bad, where in {"NaN": "spec.yaml:4:16: model.width:", "huge integer": "spec.yaml:4:7: seed:",
                       "extends loop (symlink)": "spec.yaml:4:10: extends:", "empty file": "spec.yaml:1:1:"}.items():
        for p in tmp_path.iterdir():
            p.unlink()
        BAD_INPUT[bad](tmp_path)
        assert main(["validate", SPEC]) == 2
        assert capfd.readouterr().err.startswith(where), bad


def test_set_extends_is_refused_not_ignored(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    (tmp_path / SPEC).write_text(HEADER)
    assert main(["plan", SPEC, "--set", "extends=other.yaml"]) == 2
    assert "extends: cannot be set with --set" in capfd.readouterr().err


def test_report_refuses_a_baselines_folder_or_empty_file_in_one_line(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "empty.yaml").write_text("")
    for path, message in (("folder", "folder:1:1: is a folder"), ("empty.yaml", "empty.yaml:1:1: the file is empty")):
        assert main(["report", "--list-baselines", "--baselines", path]) == 2
        out, err = capfd.readouterr()
        assert err.startswith(f"error: {message}") and len(err.splitlines()) == 1, err
        assert "Traceback" not in out + err


def test_report_refuses_a_negative_seed_as_a_usage_error(capfd):
    assert main(["report", "--seed", "-1", "--list-baselines"]) == 2
    out, err = capfd.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "--seed" in errors[0], err
    assert "Traceback" not in out + err


def test_new_from_a_folder_says_so(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    assert main(["new", "copy", "--from", "specs"]) == 2
    assert capfd.readouterr().err == "specs:1:1: is a folder, not a YAML file\n"


def test_huge_matrix_is_refused_before_any_per_cell_work(tmp_path):
    # 10^5 cells: validating each one would take minutes; the cap is checked first.
    keys = ["augment.rotation_deg", "augment.zoom", "augment.contrast", "augment.brightness", "loss.label_smoothing"]
    values = "[" + ", ".join(f"0.0{i}" for i in range(10)) + "]"
    (tmp_path / SPEC).write_text(HEADER + "matrix:\n" + "".join(f"  {k}: {values}\n" for k in keys))
    for command in (["validate", SPEC], ["plan", SPEC]):
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "ferbench", *command], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith("spec.yaml:4:1: matrix: expands into more than 10,000 runs"), r.stderr
        assert time.perf_counter() - t < 30
