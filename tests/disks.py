"""Small filesystems a test makes (root only): a tmpfs that fills, a folder made read-only.

Each returns None when it worked, else the reason it could not (not root, a container
without CAP_SYS_ADMIN), for the test to skip with; CI runs as root and mounts them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def _mount(*args: str) -> str | None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    return None if done.returncode == 0 else (done.stderr.strip() or "mount failed")


def mount_tmpfs(folder: Path, size: str) -> str | None:
    """Mount a tmpfs of ``size`` (``256k``, ``4m``) on ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))


def make_read_only(folder: Path) -> str | None:
    """Bind-mount ``folder`` onto itself, read-only: every write under it fails with EROFS."""
    why = _mount("--bind", str(folder), str(folder))
    if why is None:
        why = _mount("-o", "remount,bind,ro", str(folder))
        if why is not None:
            unmount(folder)
    return why


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path) -> None:
    """Fill the filesystem of ``folder`` to the last byte (a file ``.filler`` in it)."""
    fd = os.open(folder / ".filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
