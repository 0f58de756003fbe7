"""Folders built whole or not at all: filled in a staging folder beside the target, renamed into place at the end.

A command that fails part-way (a full disk, an error, Ctrl-C) then leaves no
half-written folder that every later command refuses and only deleting by hand
clears: the staging folder is removed, and the next attempt starts clean.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


def staging_folder(target: Path) -> Path:
    """The staging folder of ``target``: hidden, beside it (the same filesystem, so the rename is atomic)."""
    return target.parent / f".{target.name}.partial"


@contextlib.contextmanager
def staged(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh staging folder for ``target`` (new, or an empty folder); rename it onto ``target`` at the end."""
    final = Path(target)
    staging = staging_folder(final)
    shutil.rmtree(staging, ignore_errors=True)  # left by an attempt that was killed
    try:
        staging.mkdir(parents=True)
        yield staging
        if final.is_dir():
            final.rmdir()  # empty: callers refuse a folder that holds anything
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
