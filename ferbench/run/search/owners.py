"""Which worker runs a trial, and whether it is still alive, for storages without heartbeats.

Optuna's journal file storage has no heartbeats. Each worker therefore holds an
advisory lock on its own file, ``<owners>/<token>.lock``, for as long as it
lives, and names itself (the token) in the user attributes of every trial it
runs. The kernel releases the lock when the process dies, SIGKILL included, so
a RUNNING trial whose owner's lock can be taken belongs to a dead worker.
The folder sits next to the journal file, so every worker that can write the
journal can see the locks.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

from ferbench.results.atomic import file_lock


def owners_dir(journal: Path) -> Path:
    """The folder of the owner locks of the workers of a journal file."""
    return journal.parent / f".{journal.name}.workers"


def new_token() -> str:
    """A worker's name: host, process id and a random part (process ids are reused)."""
    host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname())[:64] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


def _lock_path(folder: Path, token: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in token)
    return folder / f"{safe}.lock"


@contextlib.contextmanager
def owner_lock(folder: Path, token: str) -> Iterator[None]:
    """Hold this worker's owner lock for the duration of the block; remove the file after."""
    path = _lock_path(folder, token)
    with file_lock(path) as held:
        assert held
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()


def owner_alive(folder: Path, token: str) -> bool:
    """Whether the worker ``token`` still holds its lock (a missing file means it is gone)."""
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - no flock: a worker cannot be told dead, so none is
        return True
    path = _lock_path(folder, token)
    if not path.exists():
        return False
    with file_lock(path, blocking=False) as free:
        if free:
            with contextlib.suppress(OSError):
                path.unlink()
        return not free
