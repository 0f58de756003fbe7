"""Disks that fill or refuse writes under the commands that train, export and evaluate: one line naming the path, exit 2.

The disks are real: a small tmpfs the test mounts and fills, or a folder bind-mounted
read-only (root only; the tests skip, saying why, where mounting is not permitted).
One tiny run is trained for the module: its first start meets a disk that fills as
Optuna is told of its trial, its second finishes it; the export and evaluate tests
use copies of that run.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from disks import fill, mount_tmpfs, unmount

from ferbench.cli.main import main

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "run"))

from runspecs import write_spec  # noqa: E402

pytestmark = pytest.mark.slow


def _cli(*args: str) -> tuple[int, str]:
    """``ferbench ARGS`` in this process: (exit status, standard error and output)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(list(args))
    return rc, err.getvalue() + out.getvalue()


def _one_error_line(text: str, *words: str) -> str:
    assert "Traceback" not in text and "Should not reach" not in text, text
    lines = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, text
    for w in words:
        assert w in lines[0], text
    return lines[0]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class TellOnAFullDisk:
    """The module's run: what its first start (the disk filled as Optuna was told) and its second did."""

    folder: Path
    spec: Path
    first: tuple[int, str]
    record_after_first: str
    run_json_after_first: dict[str, object]
    second: tuple[int, str]


@pytest.fixture(scope="module")
def tell_on_a_full_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TellOnAFullDisk]:
    """A one-trial run on a 2 MiB tmpfs that fills right after the trial's record is written, before Optuna's tell.

    Another process filling the disk at that moment is what the test stands for; the
    record and model fit, SQLite's write of the trial's state does not.
    """
    import ferbench.run.search.worker as worker

    root = tmp_path_factory.mktemp("tell")
    disk = root / "disk"
    why = mount_tmpfs(disk, "2m")
    if why is not None:
        pytest.skip(f"cannot mount a small tmpfs here ({why}); CI runs this as root")
    try:
        spec = write_spec(disk, name="full", trials=1, epochs=1)
        keep = worker._keep

        def keep_then_fill(*args, **kwargs):  # type: ignore[no-untyped-def]
            kept = keep(*args, **kwargs)
            fill(disk)
            return kept

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(worker, "_keep", keep_then_fill)
            first = _cli("run", str(spec), "--quiet")
        [run_json] = (disk / "results" / "full").glob("*/run.json")
        folder = run_json.parent
        record = _sha(folder / "trials" / "0000" / "record.json")
        info = json.loads(run_json.read_text())
        (disk / ".filler").unlink()
        second = _cli("run", str(spec), "--quiet")
        yield TellOnAFullDisk(folder, spec, first, record, info, second)
    finally:
        unmount(disk)


def test_a_study_whose_disk_fills_as_optuna_is_told_is_one_line_and_the_trial_counts(
        tell_on_a_full_disk: TellOnAFullDisk) -> None:
    """Before: Optuna's AssertionError("Should not reach.") over its StorageInternalError, with tracebacks, exit 1."""
    import optuna

    t = tell_on_a_full_disk
    rc, text = t.first
    assert rc == 2, text
    _one_error_line(text, f"cannot write the study {t.folder / 'study.db'}", "No space left on device")
    # The second start finishes the trial from its record (not retrained, not re-queued): exact counts, nothing stranded.
    rc, text = t.second
    assert rc == 0, text
    info = json.loads((t.folder / "run.json").read_text())
    assert info["status"] == "complete" and info["trials"]["complete"] == 1 and info["trials"]["failed"] == 0, info
    assert _sha(t.folder / "trials" / "0000" / "record.json") == t.record_after_first
    assert sorted(p.name for p in (t.folder / "best").iterdir()) == [".lock", "best.json", "model.keras"]  # no .pending model
    study = optuna.load_study(study_name=info["run_id"], storage=f"sqlite:///{t.folder / 'study.db'}")
    assert [tr.state.name for tr in study.get_trials()] == ["COMPLETE"]


def _copy_of_run(t: TellOnAFullDisk, where: Path) -> Path:
    dest = where / t.folder.name
    shutil.copytree(t.folder, dest)
    return dest


def test_export_on_a_full_disk_names_the_path_and_leaves_nothing(tell_on_a_full_disk: TellOnAFullDisk, tmp_path: Path) -> None:
    """Before: "error: cannot write a file: No space left on device" (no path), and a half-written exports folder."""
    disk = tmp_path / "disk"
    why = mount_tmpfs(disk, "4m")
    if why is not None:
        pytest.skip(f"cannot mount a small tmpfs here ({why}); CI runs this as root")
    try:
        run = _copy_of_run(tell_on_a_full_disk, disk)
        fill(disk)
        rc, text = _cli("export", str(run), "--format", "tflite")
        assert rc == 2, text
        exports = run / "trials" / "0000" / "exports"
        _one_error_line(text, "tflite export of trial 0", str(exports / "tflite"), "No space left on device")
        assert not exports.exists()  # nothing half-written: the trial is as it was before the export
    finally:
        unmount(disk)


def test_export_to_a_read_only_run_folder_names_the_path(tell_on_a_full_disk: TellOnAFullDisk, tmp_path: Path,
                                                         read_only: Callable[[Path], Path]) -> None:
    run = read_only(_copy_of_run(tell_on_a_full_disk, tmp_path))
    rc, text = _cli("export", str(run), "--format", "tflite")
    assert rc == 2, text
    _one_error_line(text, str(run / "trials" / "0000" / "exports"), "Read-only file system")


def test_export_of_a_truncated_model_says_corrupt_not_missing(tell_on_a_full_disk: TellOnAFullDisk, tmp_path: Path) -> None:
    """Keras says "File not found" of a .keras archive cut short; export says it is corrupt, and writes nothing."""
    run = _copy_of_run(tell_on_a_full_disk, tmp_path)
    model = run / "best" / "model.keras"
    model.write_bytes(model.read_bytes()[:-100])
    rc, text = _cli("export", str(run), "--format", "tflite")
    assert rc == 2, text
    line = _one_error_line(text, str(model), "corrupt")
    assert "not found" not in line.lower()
    assert not (run / "trials" / "0000" / "exports").exists()


def test_evaluate_out_on_a_read_only_disk_names_the_path(tell_on_a_full_disk: TellOnAFullDisk, tmp_path: Path,
                                                         read_only: Callable[[Path], Path]) -> None:
    (tmp_path / "ro").mkdir()
    out = read_only(tmp_path / "ro") / "eval"
    rc, text = _cli("evaluate", str(tell_on_a_full_disk.folder / "best" / "model.keras"), "--spec",
                    str(tell_on_a_full_disk.spec), "--out", str(out))
    assert rc == 2, text
    _one_error_line(text, f"--out {out}", "Read-only file system")
    assert not out.exists()


def test_a_trial_whose_model_meets_a_read_only_disk_is_counted_failed(tmp_path: Path,
                                                                      read_only: Callable[[Path], Path]) -> None:
    """The run's ``best/`` folder read-only (a mount gone read-only after an error): the model cannot be saved."""
    from ferbench.plan import plan_spec
    from ferbench.spec import load_spec

    spec = write_spec(tmp_path, name="ro", trials=1, epochs=1)
    [planned] = plan_spec(load_spec(spec), gpus=[]).runs
    best = planned.results_dir / "best"
    best.mkdir(parents=True)
    read_only(best)
    rc, text = _cli("run", str(spec), "--quiet")
    assert rc == 2, text
    _one_error_line(text, f"cannot save the model to {best}", "Read-only file system")
    info = json.loads((planned.results_dir / "run.json").read_text())
    assert info["status"] == "failed" and info["trials"]["complete"] == 0 and info["trials"]["failed"] == 1, info
    record = json.loads((planned.results_dir / "trials" / "0000" / "record.json").read_text())
    assert record["state"] == "failed" and "Read-only file system" in record["error"]
