"""``report --out PATH``: where the bytes go when PATH is not a plain new file.

Regular files are replaced atomically; a symbolic link is written through to its
target; a folder, FIFO, socket or device is refused before anything is written; a
place that cannot be written is one line and exit 2, never a traceback.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner, Result

from ferbench.cli.report import app
from ferbench.errors import FerbenchError

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

runner = CliRunner()
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _report(results: Path, out: Path | str, *extra: str) -> Result:
    return runner.invoke(app, [str(results), "--compare", "--format", "markdown", "--out", str(out), "--no-plots", *extra])


def _refused(res: Result, *words: str) -> None:
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    for w in words:
        assert w in lines[0], lines[0]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture()
def no_hang() -> Iterator[None]:
    """Fail (rather than hang) if something opens a FIFO that has no reader."""

    def boom(signum: int, frame: object) -> None:
        raise TimeoutError("the report blocked on its output")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(20)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_regular_file_is_replaced(results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    out.write_text("old\n")
    res = _report(results_dir, out)
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("# ferbench report: comparison")
    assert _leftovers(tmp_path) == []


def test_symlink_is_written_through_and_stays_a_link(results_dir: Path, tmp_path: Path) -> None:
    real_dir, link_dir = tmp_path / "real", tmp_path / "links"
    real_dir.mkdir()
    link_dir.mkdir()
    target = real_dir / "report.md"
    target.write_text("old\n")
    link = link_dir / "report.md"
    link.symlink_to(target)
    res = _report(results_dir, link)
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith("# ferbench report: comparison")
    assert _leftovers(real_dir) == [] and _leftovers(link_dir) == []


def test_dangling_symlink_creates_its_target(results_dir: Path, tmp_path: Path) -> None:
    link, target = tmp_path / "report.md", tmp_path / "elsewhere.md"
    link.symlink_to(target.name)
    res = _report(results_dir, link)
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and target.is_file() and "scaled_fer2013" in target.read_text()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_blocking(results_dir: Path, tmp_path: Path, no_hang: None) -> None:
    fifo = tmp_path / "report.md"
    os.mkfifo(fifo)
    res = _report(results_dir, fifo)
    _refused(res, str(fifo), "FIFO", "choose another path")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert not (tmp_path / "report-plots").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_symlink_to_a_fifo_is_refused(results_dir: Path, tmp_path: Path, no_hang: None) -> None:
    fifo, link = tmp_path / "pipe", tmp_path / "report.md"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    _refused(_report(results_dir, link), f"{link} (-> {fifo})", "FIFO")
    assert link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def _device(tmp_path: Path, name: str) -> Path:
    """A character device to aim at. As root, one made here (a clone of /dev/null), so a
    regression replaces that node and not the machine's; otherwise the real one, which a
    non-root process could not replace anyway."""
    real = Path("/dev") / name
    if not real.exists() or not stat.S_ISCHR(os.stat(real).st_mode):
        pytest.skip(f"{real} is absent")
    if not ROOT:
        return real
    node = tmp_path / name
    os.mknod(node, stat.S_IFCHR | 0o666, os.stat(real).st_rdev)
    return node


@pytest.mark.parametrize("name", ["null", "full"])
def test_device_is_refused(results_dir: Path, tmp_path: Path, name: str) -> None:
    dev = _device(tmp_path, name)
    before = os.lstat(dev)
    _refused(_report(results_dir, dev), str(dev), "character device")
    after = os.lstat(dev)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_folder_where_the_file_is_meant_is_refused(results_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "out" / "report.md").mkdir(parents=True)
    res = _report(results_dir, f"{tmp_path / 'out'}/")
    _refused(res, str(tmp_path / "out" / "report.md"), "is a folder")
    assert (tmp_path / "out" / "report.md").is_dir()


def test_parent_that_is_a_file_is_one_line(results_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    _refused(_report(results_dir, tmp_path / "notes.txt" / "report.md"), "cannot write", str(tmp_path / "notes.txt" / "report.md"))


@pytest.mark.skipif(ROOT, reason="root writes into read-only folders; see the simulated test below")
def test_read_only_folder_is_one_line(results_dir: Path, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        _refused(_report(results_dir, ro / "report.md"), "cannot write", "Permission denied")
    finally:
        ro.chmod(0o755)


def test_permission_denied_is_one_line_and_leaves_nothing(results_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder we may not write to, simulated (root may write anywhere): the final rename is refused."""

    def denied(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dst))

    monkeypatch.setattr(os, "replace", denied)
    _refused(_report(results_dir, tmp_path / "report.md"), "cannot write", str(tmp_path / "report.md"), "Permission denied")
    assert list(tmp_path.iterdir()) == []


def test_plots_folder_that_is_a_file_is_refused(results_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "report-plots").write_text("not a folder")
    res = runner.invoke(app, [str(results_dir), "--compare", "--format", "markdown", "--out", str(tmp_path / "report.md"), "--plots"])
    _refused(res, str(tmp_path / "report-plots"), "not a folder")
    assert not (tmp_path / "report.md").exists()


# --------------------------------------------------------------------------- plot files follow the same policy


def _tiny_figure() -> MplFigure:
    from ferbench.report.canvas import new_figure

    fig = new_figure(2, 2)
    fig.add_subplot().plot([0, 1], [0, 1])
    return fig


def test_plot_written_through_a_symlink(tmp_path: Path) -> None:
    from ferbench.report.canvas import save

    real = tmp_path / "real.png"
    real.write_bytes(b"old")
    (tmp_path / "plots").mkdir()
    link = tmp_path / "plots" / "curve.png"
    link.symlink_to(real)
    fig = save(_tiny_figure(), tmp_path / "plots", "curve", "A curve")
    assert fig.png == link and link.is_symlink()
    assert real.read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "plots" / "curve.svg").read_text().lstrip().startswith("<?xml")
    assert _leftovers(tmp_path / "plots") == [] and _leftovers(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_plot_over_a_fifo_is_refused(tmp_path: Path, no_hang: None) -> None:
    from ferbench.report.canvas import save

    os.mkfifo(tmp_path / "curve.png")
    with pytest.raises(FerbenchError, match=r"curve\.png is a FIFO"):
        save(_tiny_figure(), tmp_path, "curve", "A curve")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "curve.png").st_mode)
