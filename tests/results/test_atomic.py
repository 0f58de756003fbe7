"""Atomic writes, strict JSON and the run lock."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ferbench.results.atomic import dumps_json, file_lock, write_json, write_npz, write_text, write_with


def test_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    write_text(tmp_path / "a" / "x.txt", "one")
    write_text(tmp_path / "a" / "x.txt", "two")
    assert (tmp_path / "a" / "x.txt").read_text() == "two"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["x.txt"]


def test_failed_writer_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "m.keras"
    target.write_text("old")

    def boom(p: Path) -> None:
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_with(target, boom, suffix=".keras")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_json_is_strict_and_nan_becomes_null(tmp_path: Path) -> None:
    write_json(tmp_path / "r.json", {"a": [1.0, float("nan"), float("inf")], "b": np.float32(0.5), "c": np.int64(3)})
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": [1.0, None, None], "b": 0.5, "c": 3}
    assert dumps_json({"x": 1}).endswith("\n")


def test_npz_roundtrip(tmp_path: Path) -> None:
    write_npz(tmp_path / "p.npz", y=np.arange(3), p=np.eye(3, dtype=np.float32))
    with np.load(tmp_path / "p.npz") as z:
        assert z["y"].tolist() == [0, 1, 2] and z["p"].dtype == np.float32


def test_lock_is_exclusive(tmp_path: Path) -> None:
    with file_lock(tmp_path / ".lock", blocking=False) as first:
        assert first
        with file_lock(tmp_path / ".lock", blocking=False) as second:
            assert not second
    with file_lock(tmp_path / ".lock", blocking=False) as again:
        assert again


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    os.umask(old)
    write_text(tmp_path / "x.txt", "x")
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o666 & ~old  # not mkstemp's 0600
