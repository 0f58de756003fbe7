"""Hostile places to read from and write to: FIFOs, devices, full disks, a standard output that cannot be written.

Each case was a defect: a hang, a traceback, bytes written to a device, or a folder
that only deleting by hand cleared. Now each is one line naming the path and the
reason, exit status 2, and nothing half-written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ferbench.cli.main import main

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "benchmarks" / "quickstart.yaml"
FIXTURE = REPO / "tests" / "fixtures" / "results" / "scaled_fer2013" / "d4322c48f5ea"
HAS_FIFO = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


def _one_line(capfd: pytest.CaptureFixture[str], rc: int, *words: str) -> str:
    assert rc == 2
    err = capfd.readouterr().err.strip()
    lines = [line for line in err.splitlines() if "spec(s) invalid" not in line]
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], err
    return lines[0]


def _ferbench(*args: str, stdout: int | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "ferbench", *args], stdout=stdout if stdout is not None else subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env, timeout=timeout)


# --------------------------------------------------------------------------- standard output on a full disk

@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("args", [["schema"], ["plan", str(QUICKSTART)], ["report", str(FIXTURE), "--no-plots", "-f", "csv"]],
                         ids=["schema", "plan", "report-csv"])
def test_a_full_standard_output_is_one_line_and_exit_2(args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        done = _ferbench(*args, stdout=full.fileno())
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "error: cannot write to standard output: No space left on device"


# --------------------------------------------------------------------------- FIFOs and devices as specs and outputs

@HAS_FIFO
def test_validate_a_fifo_is_refused_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    done = _ferbench("validate", str(fifo), timeout=30)  # before: waited for a writer forever
    assert done.returncode == 2
    assert "is a FIFO (named pipe), not a spec file" in done.stderr


@HAS_FIFO
def test_an_extends_target_that_is_a_fifo_is_refused(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "base.yaml")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nferbench: 1\nname: c\n", encoding="utf-8")
    _one_line(capfd, main(["validate", str(child)]), "extends", "not a regular file")


def test_new_refuses_a_device_and_writes_nothing_to_it(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    for device in ("/dev/null", "/dev/full"):
        if not Path(device).exists():
            continue
        line = _one_line(capfd, main(["new", "x", "-o", device, "--force"]), device, "character device")
        assert "wrote" not in line


# --------------------------------------------------------------------------- full disks

def test_new_on_a_full_disk_is_one_line_naming_the_path(small_disk: Path, fill_disk: Callable[[Path], None],
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    fill_disk(small_disk)
    target = small_disk / "x.yaml"
    _one_line(capfd, main(["new", "x", "-o", str(target)]), str(target), "No space left on device")
    assert not target.exists() and not [p for p in small_disk.iterdir() if p.name != ".filler"]


def test_collect_into_a_full_disk_leaves_nothing_and_the_retry_finishes(tmp_path: Path, small_disk: Path,
                                                                        fill_disk: Callable[[Path], None],
                                                                        capfd: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "host" / "d4322c48f5ea"
    shutil.copytree(FIXTURE, src)
    into = small_disk / "merged"
    fill_disk(small_disk)
    _one_line(capfd, main(["collect", str(src), "--into", str(into)]), str(small_disk), "No space left on device")
    assert not into.exists() and [p.name for p in small_disk.iterdir()] == [".filler"]  # no half-made folder
    (small_disk / ".filler").unlink()
    assert main(["collect", str(src), "--into", str(into)]) == 0
    assert main(["report", str(into), "--no-plots"]) == 0
    assert sorted(p.name for p in (into / "trials").iterdir()) == ["0000", "0001", "0002"]


def test_new_and_collect_on_a_read_only_disk_are_one_line_naming_the_path(tmp_path: Path, read_only: Callable[[Path], Path],
                                                                         capfd: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "host" / "d4322c48f5ea"
    shutil.copytree(FIXTURE, src)
    (tmp_path / "ro").mkdir()
    ro = read_only(tmp_path / "ro")
    _one_line(capfd, main(["new", "x", "-o", str(ro / "x.yaml")]), str(ro / "x.yaml"), "Read-only file system")
    _one_line(capfd, main(["collect", str(src), "--into", str(ro / "merged")]), str(ro), "Read-only file system")
    assert not list(ro.iterdir())


def test_collect_refuses_to_collect_into_its_own_source(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "d4322c48f5ea"
    shutil.copytree(FIXTURE, src)
    before = sorted(str(p) for p in src.rglob("*"))
    _one_line(capfd, main(["collect", str(src), "--into", str(src / "merged")]), "inside", str(src))
    assert sorted(str(p) for p in src.rglob("*")) == before


def test_collect_refuses_a_garbage_predictions_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "d4322c48f5ea"
    shutil.copytree(FIXTURE, src)
    (src / "trials" / "0000" / "predictions.npz").write_bytes(b"garbage, not an archive")  # the best trial: report reads it
    line = _one_line(capfd, main(["collect", str(src), "--into", str(tmp_path / "merged")]), "predictions.npz", "corrupt")
    assert "pickle" not in line and not (tmp_path / "merged").exists()
    line = _one_line(capfd, main(["report", str(src), "--no-plots"]), "corrupt")
    assert "pickle" not in line


# --------------------------------------------------------------------------- report --out

def test_report_out_with_an_extension_that_names_no_format_is_refused(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.xyz"
    _one_line(capfd, main(["report", str(FIXTURE), "-o", str(out), "--no-plots"]), ".xyz", "names no report format")
    assert not out.exists()
    assert main(["report", str(FIXTURE), "-o", str(out), "--format", "markdown", "--no-plots"]) == 0
    assert out.read_text(encoding="utf-8").lstrip().startswith("#")


def test_report_out_dash_is_standard_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["report", str(FIXTURE), "-o", "-", "-f", "csv"]) == 0
    assert not (tmp_path / "-").exists() and not list(tmp_path.iterdir())
    assert "scaled_fer2013" in capfd.readouterr().out
