"""The memory budget (``runtime.memory_mb``) and the splits that are memory-mapped because of it.

A dataset whose splits fit the budget is held in memory, as always. One that does
not is decoded straight into the cache's ``x.npy`` and stays there: each split is a
read-only memory-mapped uint8 array (a slice of the cache when the split is one
run of it, else its own ``split-<key>.npy`` of the cache, written once), training
gathers its batches from it and evaluation predicts in chunks; only the pages in
use are resident, so a run's memory is set by the budget, not by the dataset.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

#: The default budget: this share of the machine's physical memory.
DEFAULT_SHARE = 0.5
#: Bytes of images (uint8) worked on at a time: a mapped split gathered into its own file, and the
#: evaluation paths (test-time augmentation, corruptions and near-duplicate fingerprints, which
#: turn a chunk into a few float copies of it).
CHUNK_BYTES = 8 << 20


def machine_bytes() -> int:
    """Physical memory of this machine, in bytes (8 GiB where the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def budget_bytes(memory_mb: int | None) -> int:
    """``runtime.memory_mb`` in bytes; ``None`` (auto): :data:`DEFAULT_SHARE` of the machine's memory."""
    if memory_mb is None:
        return int(machine_bytes() * DEFAULT_SHARE)
    return int(memory_mb) << 20


def is_mapped(x: np.ndarray) -> bool:
    """Whether ``x`` is a memory-mapped split (read from disk as used) rather than held in memory."""
    return isinstance(x, np.memmap)


def take(x: np.ndarray, idx: np.ndarray, *, mapped: bool, cache: Path, key: str) -> np.ndarray:
    """The rows ``idx`` of the source's images: in memory, or (``mapped``) memory-mapped.

    A mapped split that is one run of ``x`` is a slice of it; any other is gathered
    once into ``cache/split-<key>.npy`` (atomic: written aside, renamed) and reopened.
    """
    contiguous = len(idx) > 0 and int(idx[-1]) - int(idx[0]) + 1 == len(idx) and bool((np.diff(idx) == 1).all())
    if not mapped:
        if not isinstance(x, np.memmap):  # an in-memory source: a view where possible, as always
            return x[int(idx[0]) : int(idx[-1]) + 1] if contiguous else x[idx]
        return np.array(x[int(idx[0]) : int(idx[-1]) + 1] if contiguous else x[idx])
    if contiguous and isinstance(x, np.memmap):
        part: np.ndarray = x[int(idx[0]) : int(idx[-1]) + 1]
        return part
    from ferbench.data.cache import sha256_hex

    target = cache / f"split-{sha256_hex('split', key, _digest(idx))}.npy"
    if not target.exists():
        _write(target, x, idx)
    out: np.ndarray = np.load(target, mmap_mode="r")
    return out


def _digest(idx: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(idx, np.int64).tobytes()).hexdigest()


def _write(target: Path, x: np.ndarray, idx: np.ndarray) -> None:
    """``x[idx]`` into ``target``, a chunk of rows at a time, written aside and renamed into place."""
    from ferbench.data.unfinished import writer_prefix

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=writer_prefix("split"), suffix=".npy", dir=target.parent)
    os.close(fd)
    try:
        out = np.lib.format.open_memmap(name, "w+", np.uint8, (len(idx), *x.shape[1:]))
        rows = chunk_rows(x.shape)
        for s in range(0, len(idx), rows):
            out[s : s + rows] = x[idx[s : s + rows]]
            out.flush()
            drop_pages(out)
            drop_pages(x)
        del out
        os.chmod(name, 0o644)
        os.replace(name, target)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def drop_pages(x: np.ndarray) -> None:
    """Let the kernel take back the pages of a memory-mapped ``x`` this process has touched: they
    stay in the file (and the page cache) but leave its resident memory. Nothing for other arrays."""
    m = getattr(x, "_mmap", None)
    if isinstance(m, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        with contextlib.suppress(OSError, ValueError):
            m.madvise(mmap.MADV_DONTNEED)


def by_chunks(x: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` (one value per row) over ``x`` a chunk of rows at a time; a mapped ``x`` leaves no pages resident."""
    if not isinstance(x, np.memmap):
        return fn(x)
    parts = [fn(part) for _, part in chunks(x, chunk_rows(x.shape))]
    return np.concatenate(parts) if parts else fn(x[:0])


def chunk_rows(shape: tuple[int, ...], multiple: int = 1, itemsize: int = 1) -> int:
    """Rows of images of ``shape`` (N×H×W×C) in a chunk of :data:`CHUNK_BYTES` (as ``itemsize``-byte
    values), a multiple of ``multiple`` (a predict function's batch size: its batches stay as in one pass)."""
    per_image = max(1, int(np.prod(shape[1:], dtype=np.int64)) * itemsize)
    multiple = max(1, multiple)
    return max(multiple, CHUNK_BYTES // per_image // multiple * multiple)


def chunks(x: np.ndarray, rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, x[start:start + rows])`` in order; a mapped ``x`` drops the pages of each chunk once it is used,
    so only one chunk of it is resident at a time (a slice of a memory-mapped array is read, not copied)."""
    for start in range(0, len(x), max(1, rows)):
        yield start, x[start : start + rows]
        drop_pages(x)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (Linux: ``VmHWM``; else ``ru_maxrss``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
