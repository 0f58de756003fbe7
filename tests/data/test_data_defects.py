"""Defects in the data on disk: each is one line naming the file (and row), exit 2 and
no traceback, or a counted warning where the rest of the data can still be used."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from data_helpers import class_tree, pixels, small_fer, write_fer_csv

from ferbench.cli.main import main
from ferbench.data import load_dataset
from ferbench.errors import DataError
from ferbench.spec.types import DatasetSpec, DerivedSplit

FER = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CSV_SPLITS = ("Training", "PublicTest", "PrivateTest")
MakeSpec = Callable[..., DatasetSpec]


def describe_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], path: Path, splits: str = "") -> tuple[int, str]:
    """``ferbench data describe`` run in this process on a FER2013 spec; returns (exit code, stderr)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"ferbench: 1\nname: t\ndataset:\n  kind: fer2013\n  path: {path}\n  cache: {tmp_path / 'cache'}\n{splits}"
        "search: {trials: 1, space: {learning_rate: {float: [1.0e-3, 1.0e-2], log: true}}}\n"
    )
    capsys.readouterr()
    rc = main(["data", "describe", str(spec)])
    return rc, capsys.readouterr().err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_fer2013_csv_with_a_header_and_no_rows(tmp_path: Path, make_spec: MakeSpec, capsys: pytest.CaptureFixture[str]) -> None:
    csv = write_fer_csv(tmp_path / "fer" / "fer2013.csv", [])
    with pytest.raises(DataError, match=re.escape(f"{csv}: the header has no data rows after it")):
        load_dataset(make_spec(kind="fer2013", path=csv.parent, splits=CSV_SPLITS))
    rc, err = describe_cli(tmp_path, capsys, csv.parent)
    assert rc == 2
    assert one_error_line(err).startswith(f"error: {csv}: the header has no data rows after it")


def test_every_row_bad_and_skipped_is_one_clear_error(tmp_path: Path, make_spec: MakeSpec) -> None:
    rng = np.random.default_rng(0)
    csv = write_fer_csv(tmp_path / "fer2013.csv", [(0, pixels(rng, 10), "Training"), (1, pixels(rng, 10), "PublicTest")])
    with pytest.raises(DataError, match=re.escape(f"{csv}: no readable sample (2 skipped)")):
        load_dataset(make_spec(kind="fer2013", path=tmp_path, splits=CSV_SPLITS, on_bad_sample="skip"))


def test_malformed_row_is_shown_as_a_short_excerpt(tmp_path: Path, make_spec: MakeSpec) -> None:
    rows, _, _ = small_fer(np.random.default_rng(1))
    px = rows[0][1]
    rows.insert(3, (px, px, "Training"))  # the pixels pasted into the emotion column: line 5
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    with pytest.raises(DataError) as err:
        load_dataset(make_spec(kind="fer2013", path=tmp_path, splits=CSV_SPLITS))
    (line,) = [ln for ln in str(err.value).splitlines() if "fer2013.csv:5:" in ln]
    assert line.strip() == f"fer2013.csv:5: emotion {px[:24]!r}... ({len(px):,} characters) is not a label 0..6"
    assert len(str(err.value)) < 400


def test_missing_header_shows_the_first_row_cut(tmp_path: Path, make_spec: MakeSpec) -> None:
    px = pixels(np.random.default_rng(7))
    (tmp_path / "fer2013.csv").write_text(f"0,{px},Training\n1,{px},Training\n")
    with pytest.raises(DataError) as err:
        load_dataset(make_spec(kind="fer2013", path=tmp_path, splits=CSV_SPLITS))
    assert str(err.value) == (
        f"{tmp_path / 'fer2013.csv'}:1: columns ['0', {px[:24]!r}... ({len(px):,} characters), 'training'] are not the FER2013 CSV's; "
        "expected a header emotion,pixels,Usage (Usage optional). Is this the Kaggle fer2013.csv?"
    )


def test_unknown_usage_rows_are_skipped_counted_and_named(tmp_path: Path, make_spec: MakeSpec) -> None:
    rng = np.random.default_rng(2)
    rows, _, _ = small_fer(rng)
    long_usage = "x" * 500
    rows += [(0, pixels(rng), "Validation"), (1, pixels(rng), long_usage), (2, pixels(rng), "training")]
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    data = load_dataset(make_spec(kind="fer2013", path=tmp_path, splits=CSV_SPLITS))
    assert data.skipped == 2  # "training" is Training, in another case
    assert [len(data.splits[k]) for k in ("train", "validation", "test")] == [22, 7, 7]
    (warning,) = [w for w in data.warnings if "Usage" in w]
    assert warning.startswith("skipped 2 row(s) whose Usage is not one of Training, PublicTest, PrivateTest: ")
    assert "fer2013.csv:37 'Validation', fer2013.csv:38 'xxxxxxxxxxxxxxxxxxxxxxxx'... (500 characters)" in warning


def test_unreadable_class_folder_is_one_line_naming_it(
    tmp_path: Path, make_spec: MakeSpec, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "fer"
    class_tree(root, {"train": {c: 2 for c in FER}, "test": {c: 1 for c in FER}}, np.random.default_rng(3))
    locked = root / "train" / "sad"
    real_iterdir = Path.iterdir

    def iterdir(self: Path) -> Any:  # chmod 000 does not stop root, so the listing fails here
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    expected = f"{locked}: cannot list this folder (Permission denied); make it readable (chmod u+rx) or move it out of dataset.path"
    with pytest.raises(DataError, match=re.escape(expected)):
        load_dataset(make_spec(kind="folder", path=root, splits=("train", DerivedSplit("train", 0.5), "test")))
    rc, err = describe_cli(tmp_path, capsys, root)
    assert rc == 2 and expected in one_error_line(err)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="permissions do not apply to root")
def test_unreadable_class_folder_by_permissions(tmp_path: Path, make_spec: MakeSpec) -> None:
    root = tmp_path / "fer"
    class_tree(root, {"train": {c: 2 for c in FER}, "test": {c: 1 for c in FER}}, np.random.default_rng(4))
    locked = root / "train" / "sad"
    locked.chmod(0)
    try:
        with pytest.raises(DataError, match=re.escape(f"{locked}: cannot list this folder")):
            load_dataset(make_spec(kind="folder", path=root, splits=("train", DerivedSplit("train", 0.5), "test")))
    finally:
        locked.chmod(0o755)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_dangling_symlinks_and_fifos_are_counted_and_named(tmp_path: Path, make_spec: MakeSpec) -> None:
    root = tmp_path / "fer"
    class_tree(root, {"train": {c: 2 for c in FER}, "test": {c: 1 for c in FER}}, np.random.default_rng(5))
    os.symlink(tmp_path / "gone.png", root / "train" / "happy" / "ghost.png")
    os.mkfifo(root / "train" / "sad" / "pipe.png")
    data = load_dataset(make_spec(kind="fer2013", path=root, splits=("train", DerivedSplit("train", 0.5), "test")))
    assert sum(len(s) for s in data.splits.values()) == 21
    (warning,) = [w for w in data.warnings if "not files" in w]
    assert warning == (
        "ignored 2 entries of the class folders that are not files: train/happy/ghost.png (dangling symlink), "
        "train/sad/pipe.png (FIFO); fix the links or remove them"
    )


def test_unwritable_cache_loads_without_caching_and_warns_once(tmp_path: Path, make_spec: MakeSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    rows, _, _ = small_fer(np.random.default_rng(6))
    write_fer_csv(tmp_path / "fer" / "fer2013.csv", rows)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    spec = make_spec(kind="fer2013", path=tmp_path / "fer", splits=CSV_SPLITS, cache=str(blocker / "cache"))
    for _ in range(2):  # nothing was cached: the second load decodes and warns again
        data = load_dataset(spec)
        assert len(data.splits["train"]) == 21
        warnings = [w for w in data.warnings if "cache" in w]
        assert len(warnings) == 1
        assert warnings[0].startswith(f"cannot write the data cache {blocker / 'cache'} ({blocker / 'cache'}: Not a directory); loaded without caching")
        assert warnings[0].endswith("set dataset.cache or $FERBENCH_CACHE to a writable folder")

    # A read-only cache folder (simulated: root ignores permissions): still one warning.
    import tempfile

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied", str(kwargs.get("dir", "")))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    data = load_dataset(make_spec(kind="fer2013", path=tmp_path / "fer", splits=CSV_SPLITS, cache=str(tmp_path / "ro")))
    (warning,) = [w for w in data.warnings if "cache" in w]
    assert f"({tmp_path / 'ro'}: Permission denied)" in warning
    monkeypatch.undo()
    cached = make_spec(kind="fer2013", path=tmp_path / "fer", splits=CSV_SPLITS, cache=str(tmp_path / "ok"))
    assert not [w for w in load_dataset(cached).warnings if "cache" in w]
