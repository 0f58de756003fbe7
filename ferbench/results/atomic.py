"""Whole-or-nothing file writes and a small advisory lock.

Every file a run writes goes through here: the bytes land in a temporary file in
the same folder, are flushed to disk, and then ``os.replace`` swaps them in. A
reader (or a run killed half-way) therefore sees the old file or the new one,
never a torn one. Same folder matters: ``os.replace`` is only atomic within one
file system.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

from ferbench.errors import FerbenchError


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


#: mkstemp creates files 0600; results are meant to be read by others (umask applies).
_MODE = 0o666 & ~_umask()


def _tmp_path(target: Path, suffix: str = "") -> Path:
    # Same folder as the target; the pid keeps concurrent writers apart.
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".{os.getpid()}.tmp{suffix}", dir=target.parent)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.chmod(name, _MODE)
    return Path(name)


def _fsync_dir(folder: Path) -> None:
    # Make the rename itself durable; not possible on every platform.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file + ``os.replace``)."""

    def put(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    return write_with(path, put)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically."""
    return write_bytes(path, text.encode("utf-8"))


def json_clean(obj: object) -> Any:
    """A JSON-safe copy: numpy scalars to Python, non-finite floats to ``None``.

    JSON has no NaN or infinity; a failed trial's history can hold them, and the
    records must stay strict JSON that any reader accepts.
    """
    if isinstance(obj, Mapping):
        return {str(k): json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_clean(v) for v in obj]
    if isinstance(obj, bool):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):  # NumPy's float64 too
        return float(obj) if math.isfinite(obj) else None
    np_ = sys.modules.get("numpy")  # NumPy values exist only where NumPy is loaded
    if np_ is not None:
        if isinstance(obj, np_.ndarray):
            return json_clean(obj.tolist())
        if isinstance(obj, np_.bool_):
            return bool(obj)
        if isinstance(obj, np_.integer):
            return int(obj)
        if isinstance(obj, np_.floating):
            return json_clean(float(obj))
    return obj


def dumps_json(obj: object) -> str:
    """Stable, strict JSON text (2-space indent, trailing newline)."""
    return json.dumps(json_clean(obj), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(path: str | os.PathLike[str], obj: object) -> Path:
    """Write ``obj`` as strict JSON atomically."""
    return write_text(path, dumps_json(obj))


def write_npz(path: str | os.PathLike[str], **arrays: np.ndarray) -> Path:
    """Write NumPy arrays to an ``.npz`` file atomically (compressed)."""
    import numpy as np

    buf = io.BytesIO()
    save: Callable[..., None] = np.savez_compressed  # its stubs read **arrays as its keyword options
    save(buf, **arrays)
    return write_bytes(path, buf.getvalue())


def write_with(path: str | os.PathLike[str], writer: Callable[[Path], None], suffix: str = "") -> Path:
    """Let ``writer`` fill a temporary path, then move it onto ``path``.

    For writers that insist on a file name (Keras's ``model.save`` wants a
    ``.keras`` suffix, hence ``suffix``).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(target, suffix)
    try:
        if suffix:
            tmp.unlink()  # writers that want a name of their own may refuse to overwrite
        writer(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)
    return target


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], *, blocking: bool = True) -> Iterator[bool]:
    """An advisory ``flock`` on ``path`` for the duration of the block.

    Yields ``True`` when the lock is held, ``False`` when ``blocking`` is off and
    another process holds it. The kernel releases the lock when the holder dies,
    so a SIGKILLed run never leaves a stale lock behind.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fh = open(target, "a+")
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX; run without the lock
            yield True
            return
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(fh.fileno(), flags)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()


# --------------------------------------------------------------------------- user-named outputs

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISLNK, "a symbolic link that does not resolve (a loop?)"),
)


def _shown(path: Path, real: Path) -> str:
    return f"{path} (-> {real})" if real != path else str(path)


def _cannot_write(path: Path, real: Path, exc: OSError) -> FerbenchError:
    why = exc.strerror or str(exc)
    return FerbenchError(f"cannot write {_shown(path, real)}: {why}; choose another path, in a folder you can write to")


def output_target(path: str | os.PathLike[str]) -> Path:
    """Where a file the user named (``--out``, a plot beside it) will really be written.

    A regular file or a path that does not exist yet is written as it is; a symbolic
    link is followed, so its target receives the bytes and the link stays a link.
    Anything else (a folder, FIFO, socket or device) raises :class:`FerbenchError`
    before a byte is written: never opened, never replaced. Checks only, writes nothing.
    """
    p = Path(path)
    real = Path(os.path.realpath(p)) if p.is_symlink() else p
    try:
        mode = os.lstat(real).st_mode
    except FileNotFoundError:
        return real
    except OSError as exc:  # a parent that is a file, a folder we may not search
        raise _cannot_write(p, real, exc) from None
    if stat.S_ISREG(mode):
        return real
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise FerbenchError(f"{_shown(p, real)} is {kind}; ferbench writes only regular files (or through a symbolic link to one): choose another path")


def _guarded(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    p = Path(path)
    real = output_target(p)
    try:
        write(real)
    except OSError as exc:
        raise _cannot_write(p, real, exc) from None
    return p


def write_output(path: str | os.PathLike[str], writer: Callable[[Path], None], suffix: str = "") -> Path:
    """:func:`write_with` for a file the user named, under :func:`output_target`'s policy.

    Symbolic links are written through (atomically, at the target's real location);
    folders, FIFOs, sockets and devices are refused; a place that cannot be written
    (permissions, a parent that is a file, a full disk) raises :class:`FerbenchError`
    saying which path and why. Returns ``path`` as given.
    """
    return _guarded(path, lambda real: write_with(real, writer, suffix))


def write_output_text(path: str | os.PathLike[str], text: str) -> Path:
    """:func:`write_text` (UTF-8, atomic) for a file the user named, under :func:`write_output`'s policy."""
    return _guarded(path, lambda real: write_text(real, text))
