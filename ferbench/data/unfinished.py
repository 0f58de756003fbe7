"""Files a load writes before it is complete, and their removal once their writer is gone.

A first load decodes into ``.spill-*`` files of the cache folder, gathers mapped splits into
``.split-*`` files and writes an entry into a ``.raw-*`` folder before renaming each into place
(:mod:`ferbench.data.cache`, :mod:`ferbench.data.images`, :mod:`ferbench.data.memory`). Killed
before it can clean up (SIGKILL, the out-of-memory killer, power loss), it leaves them behind,
gigabytes at AffectNet's size. Each is named after its writer, ``.<kind>-p<pid>h<host>-...``:
the next load removes those of this host (its name and process-id namespace) whose process is
gone, or whose process id now belongs to a process started after the file was last written (the
id was reused). A live writer's files, other hosts' and other containers' (a cache folder shared
over the network or mounted into several) and any other file are left alone.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import zlib
from pathlib import Path

#: The unfinished files of a writer: ``.<kind>-p<pid>h<host>-...`` (see :func:`writer_prefix`).
_UNFINISHED = re.compile(r"^\.(spill|split|raw|old|index)-p(\d+)h([0-9a-f]{8})-")
#: Seconds of slack when a process's start is compared with a file's time (``btime`` has whole seconds).
_SLACK = 2.0


def _host() -> str:
    """This host, as 8 hex digits: its name and its process-id namespace (two containers that share a
    name and a cache folder do not see each other's processes, so each leaves the other's files alone)."""
    try:
        space = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        space = ""
    return f"{zlib.crc32(f'{socket.gethostname()}/{space}'.encode()):08x}"


def writer_prefix(kind: str) -> str:
    """The name prefix of an unfinished file of this process: ``.<kind>-p<pid>h<host>-``. A later load
    removes the files whose process is gone (:func:`clean_stale`); the host keeps a shared cache folder's
    files of other machines, whose processes cannot be seen from here, out of it."""
    return f".{kind}-p{os.getpid()}h{_host()}-"


def _started(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), where /proc says; else ``None``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _writer_alive(pid: int, written: float) -> bool:
    """Whether the process that wrote a file last modified at ``written`` may still run: a process
    ``pid`` exists and did not start after the file was written (else the id was reused)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        pass
    started = _started(pid)
    return started is None or started <= written + _SLACK


def _size(path: Path) -> int:
    if path.is_dir() and not path.is_symlink():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return path.lstat().st_size


def clean_stale(cache: Path) -> tuple[int, int]:
    """Remove the unfinished files (spill, split, entry and index files being written) that loads of
    this host left in ``cache`` when they were killed: those whose writing process is gone. A live
    writer's files, other hosts' and other names are left alone. Returns how many were removed and
    their bytes; a file that cannot be removed is left for the next load."""
    found, freed = 0, 0
    candidates = [*_listed(cache), *_listed(cache / "index")]
    for path in candidates:
        m = _UNFINISHED.match(path.name)
        if m is None or m.group(3) != _host():
            continue
        try:
            st = path.lstat()
            if _writer_alive(int(m.group(2)), st.st_mtime):
                continue
            size = _size(path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        found, freed = found + 1, freed + size
    return found, freed


def _listed(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.name.startswith(".")]
    except OSError:
        return []


def stale_note(cache: Path) -> str | None:
    """:func:`clean_stale` on ``cache`` and on the temporary folder (where a process pool decodes a source
    that fits in memory) as one line for the user, or ``None`` when nothing was left there."""
    count, freed = clean_stale(cache)
    temp = Path(tempfile.gettempdir())
    in_temp, freed_temp = clean_stale(temp) if temp.resolve() != cache.resolve() else (0, 0)
    if not count + in_temp:
        return None
    where = f"the data cache {cache}" + (f" and {temp}" if in_temp else "") if count else str(temp)
    return (f"removed {count + in_temp} unfinished file(s) ({(freed + freed_temp) / 2**20:,.1f} MiB freed) that a killed load "
            f"left in {where} (their process is gone)")
