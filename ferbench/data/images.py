"""Decode, crop and resize image files into uint8 arrays, many at a time.

Many files decode in a process pool over every core, each worker writing its rows
straight into one shared ``.npy`` file (no arrays are pickled between processes);
a few hundred decode in threads (Pillow releases the GIL while it decodes and
resizes). A JPEG face box is decoded by libjpeg-turbo (through simplejpeg) at 1/2,
1/4 or 1/8 scale whenever the face keeps the target resolution there. Inside
:func:`spill_to` an output larger than the memory budget, or written by a pool, stays
memory-mapped in the cache folder instead of being read back.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import multiprocessing
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rich.progress import Progress

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})


#: A JPEG face box is decoded at a reduced scale while it keeps at least this many times the
#: target resolution there. Part of the data cache's key (see ``ferbench.data.load``), with
#: :data:`JPEG_DECODER`: a change changes the decoded pixels of face-box datasets.
DRAFT_MARGIN = 1
#: What decodes a JPEG face box (Pillow decodes the JPEGs it cannot, and every other image).
JPEG_DECODER = "libjpeg-turbo scaled (simplejpeg)"


@dataclass(frozen=True)
class Item:
    """One image to decode; ``box`` = (x, y, width, height) of the face, or the whole image."""

    path: Path
    box: tuple[int, int, int, int] | None = None


def to_channels(x: np.ndarray, color: str) -> np.ndarray:
    """Grayscale N×H×W×1 to the requested colour (RGB repeats the channel)."""
    if color == "rgb" and x.shape[-1] == 1:
        return np.repeat(x, 3, axis=-1)
    return x


def resize_array(x: np.ndarray, size: int) -> np.ndarray:
    """Resize N×H×W×C uint8 images to size×size (Pillow bilinear, antialiased)."""
    if x.shape[1] == size and x.shape[2] == size:
        return x
    from PIL import Image

    out = np.empty((len(x), size, size, x.shape[-1]), np.uint8)
    for i, img in enumerate(x):
        im = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
        out[i] = np.asarray(im.resize((size, size), Image.Resampling.BILINEAR)).reshape(size, size, -1)
    return out


def decode(item: Item, size: int, color: str) -> tuple[np.ndarray, str]:
    """Decode one file to a size×size uint8 array (H×W×C) and the sha256 of its bytes.

    Raises ``ValueError`` with a short reason for anything unreadable.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        data = item.path.read_bytes()
    except FileNotFoundError:
        raise ValueError("file not found") from None
    except OSError as exc:
        raise ValueError(f"cannot read ({exc.strerror})") from None
    digest = hashlib.sha256(data).hexdigest()
    mode = "L" if color == "grayscale" else "RGB"
    if item.box is not None and (scaled := _jpeg_face(data, item.box, size, mode)) is not None:
        a, full = scaled  # cropped by slicing the decoded array: no copy of the whole image
        left, top, right, bottom = _crop_box(item.box, full, (a.shape[1], a.shape[0]))
        im = Image.fromarray(a[top:bottom, left:right, 0] if mode == "L" else a[top:bottom, left:right])
    else:
        try:
            im = Image.open(io.BytesIO(data))
            full = im.size
            if item.box is not None and im.format == "JPEG" and (scale := jpeg_scale(item.box, size)) > 1:
                im.draft(mode, (int(full[0] / scale), int(full[1] / scale)))
            im.load()
            im = im.convert(mode)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            why = re.sub(r" <_io\.BytesIO object at 0x[0-9a-fA-F]+>", "", str(exc))  # Pillow names the in-memory file
            raise ValueError(f"corrupt or unsupported image ({type(exc).__name__}: {why})") from None
        if item.box is not None:
            im = im.crop(_crop_box(item.box, full, im.size))
    if im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.uint8).reshape(size, size, -1), digest


def _crop_box(box: tuple[int, int, int, int], full: tuple[int, int], decoded: tuple[int, int]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of a face ``box`` of a ``full``-size image in the image as decoded
    (at a reduced scale: ``decoded`` is its width and height); raises if the box lies outside."""
    sx, sy = decoded[0] / full[0], decoded[1] / full[1]
    x, y, w, h = box
    left, top = max(0, round(x * sx)), max(0, round(y * sy))
    right, bottom = min(decoded[0], round((x + w) * sx)), min(decoded[1], round((y + h) * sy))
    if right - left < 2 or bottom - top < 2:
        raise ValueError(f"face box {box} lies outside the {full[0]}x{full[1]} image")
    return left, top, right, bottom


def jpeg_scale(box: tuple[int, int, int, int], size: int) -> int:
    """The reduced scale 1/s (s = 1, 2, 4 or 8) a JPEG face box is decoded at: the largest at
    which the face keeps at least the target resolution (times :data:`DRAFT_MARGIN`), so that
    resizing then only ever shrinks, as it would from full scale."""
    reduce = min(box[2], box[3]) / (DRAFT_MARGIN * size)
    return next((s for s in (8, 4, 2) if reduce >= s), 1)


def _jpeg_face(data: bytes, box: tuple[int, int, int, int], size: int, mode: str) -> tuple[np.ndarray, tuple[int, int]] | None:
    """A JPEG decoded by libjpeg-turbo at the face box's :func:`jpeg_scale` (its DCT scaling
    averages the pixels it drops; H×W×1 in grayscale, the JPEG's luma) and its full size;
    ``None`` for anything else (not a JPEG, damaged: Pillow then decodes it, or says why not)."""
    import simplejpeg

    if not simplejpeg.is_jpeg(data):
        return None
    try:
        height, width, _, _ = simplejpeg.decode_jpeg_header(data)
        s = jpeg_scale(box, size)
        a = simplejpeg.decode_jpeg(data, colorspace="GRAY" if mode == "L" else "RGB", min_height=-(-height // s), min_width=-(-width // s))
    except ValueError:
        return None
    return a, (width, height)


#: From this many files on, decoding runs in a process pool (below, in threads: the
#: pool's start costs more than it saves).
PROCESS_MIN = 512
#: Files per task: one task decodes a run of files into consecutive rows.
STEP = 64
#: The items of each pool decode in progress, by its file, which forked workers inherit.
_FORKED: dict[str, Sequence[Item]] = {}

#: Where :func:`decode_many` puts an output that would not fit in memory: (folder, budget in bytes).
_SPILL: contextvars.ContextVar[tuple[Path, int] | None] = contextvars.ContextVar("ferbench_spill", default=None)


@contextlib.contextmanager
def spill_to(folder: Path, budget: int) -> Iterator[None]:
    """Within this block, :func:`decode_many` decodes an output larger than half of ``budget`` bytes into a
    memory-mapped ``.spill-*.npy`` file in ``folder`` (which the cache then takes over) instead of memory."""
    token = _SPILL.set((folder, budget))
    try:
        yield
    finally:
        _SPILL.reset(token)


def _spill_prefix() -> str:
    """``.spill-`` and the writer (process and host): a later load removes it once its process is gone."""
    from ferbench.data.unfinished import writer_prefix

    return writer_prefix("spill")


def spilled(x: np.ndarray) -> Path | None:
    """The spill file a decoded array lives in, or ``None`` (an in-memory array)."""
    name = getattr(x, "filename", None)
    return Path(name) if isinstance(x, np.memmap) and name and Path(name).name.startswith(".spill-") else None


def pool_context() -> multiprocessing.context.BaseContext | None:
    """How to start pool workers: forked while TensorFlow is not loaded (its threads make a fork
    unsafe), else ``None`` (use threads). Not spawned: a spawned worker re-runs the caller's script."""
    if "tensorflow" in sys.modules or "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork")


def decode_many(
    items: Sequence[Item],
    size: int,
    color: str,
    *,
    progress: bool = True,
    label: str = "decoding",
    workers: int | None = None,
    processes: bool | None = None,
) -> tuple[np.ndarray, list[str], list[tuple[int, str]]]:
    """Decode ``items`` in parallel, in order: a process pool from :data:`PROCESS_MIN` files
    on (or as ``processes`` says), threads below.

    Returns the images of the readable items (N×size×size×C; memory-mapped inside a
    :func:`spill_to` block when larger than its budget or decoded by a pool), the sha256 of every item's
    bytes ("" where unreadable), and ``(index, reason)`` for the unreadable.
    """
    shape = (len(items), size, size, 1 if color == "grayscale" else 3)
    workers = workers or min(8, os.cpu_count() or 1)
    pool = processes if processes is not None else (workers > 1 and len(items) >= PROCESS_MIN and pool_context() is not None)
    spill = _SPILL.get()
    nbytes = int(np.prod(shape, dtype=np.int64))
    # The result stays in a spill file of the cache folder when it and the splits copied from it would
    # not both fit, and whenever a pool writes it (the cache entry is then that file, renamed: the
    # pixels are neither read back nor written again). Elsewhere a pool's file is temporary.
    over = spill is not None and 2 * nbytes > spill[1]
    mapped = over or (spill is not None and pool)
    into: Path | None = None
    if mapped or pool:
        into = _new_file(spill[0] if spill is not None and mapped else None)
        mapped = over or (spill is not None and into.parent == spill[0])  # a cache folder that refused the file: read back
    try:
        out = np.zeros(shape, np.uint8) if into is None else np.lib.format.open_memmap(into, "w+", np.uint8, shape)
        digests, bad = _run(items, size, color, out, into, workers, pool, (progress and len(items) >= 1000, label))
        ok = np.ones(len(items), bool)
        ok[[i for i, _ in bad]] = False
        if not mapped:  # in memory (read back from a pool's shared file)
            if into is None:
                return (out if not bad else out[ok]), digests, bad
            del out  # read the pool's file back with read(), not through the mapping (its pages would count twice)
            x = np.load(into)
            return (x if not bad else x[ok]), digests, bad
        assert into is not None
        return (_compact(into, out, ok) if bad else out), digests, bad
    except BaseException:
        mapped = False  # nothing to keep
        raise
    finally:
        if into is not None and not mapped:
            with contextlib.suppress(OSError):
                into.unlink()


def _new_file(folder: Path | None) -> Path:
    """An empty spill file in ``folder`` (the temporary folder when ``None`` or not writable)."""
    if folder is not None:
        with contextlib.suppress(OSError):
            return _spill_file(folder)
    return _spill_file(Path(tempfile.gettempdir()))


def _spill_file(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_spill_prefix(), suffix=".npy", dir=folder)
    os.close(fd)
    return Path(name)


def _run(items: Sequence[Item], size: int, color: str, out: np.ndarray, into: Path | None, workers: int, pool: bool,
         bar: tuple[bool, str]) -> tuple[list[str], list[tuple[int, str]]]:
    """Decode every item into its row of ``out`` (threads) or of the file ``into`` (processes)."""
    digests = [""] * len(items)
    bad: list[tuple[int, str]] = []
    starts = range(0, len(items), STEP)
    def work(start: int) -> tuple[list[str], list[tuple[int, str]]]:
        return _decode_into(out, start, items[start : start + STEP], size, color)

    ex: Executor
    forked: str | None = None
    context = pool_context()
    if pool:
        assert into is not None
        if isinstance(out, np.memmap):
            out.flush()
        if context is not None:  # forked workers inherit the items: a task names its run, nothing is pickled
            forked = str(into)
            _FORKED[forked] = items
    try:
        if pool:
            tasks = [(into, start, forked or list(items[start : start + STEP]), size, color) for start in starts]
            ex = ProcessPoolExecutor(workers, mp_context=context or multiprocessing.get_context("spawn"))
            results = ex.map(_decode_rows, tasks)
        else:
            ex = ThreadPoolExecutor(workers)
            results = ex.map(work, starts)
        with _bar(bar[0], bar[1], len(items)) as advance, ex:
            for start, (d, problems) in zip(starts, results, strict=True):
                digests[start : start + len(d)] = d
                bad += problems
                advance(len(d))
    finally:
        if forked is not None:
            del _FORKED[forked]
    return digests, bad


def _decode_into(out: np.ndarray, start: int, items: Sequence[Item], size: int, color: str) -> tuple[list[str], list[tuple[int, str]]]:
    """Decode ``items`` into ``out[start:]``: their digests, and ``(index, why)`` of the unreadable."""
    digests, problems = [""] * len(items), []
    for k, item in enumerate(items):
        try:
            out[start + k], digests[k] = decode(item, size, color)
        except ValueError as exc:
            problems.append((start + k, str(exc)))
    return digests, problems


def _decode_rows(task: tuple[Path, int, str | list[Item], int, str]) -> tuple[list[str], list[tuple[int, str]]]:
    """A pool task: decode a run of items (given, or the run at ``start`` of the items a forked worker
    inherited) into their rows of the shared ``.npy`` file."""
    path, start, items, size, color = task
    run = _FORKED[items][start : start + STEP] if isinstance(items, str) else items
    out = np.load(path, mmap_mode="r+")
    try:
        return _decode_into(out, start, run, size, color)
    finally:
        # No flush: the rows are in the page cache, which the parent reads (a shared mapping);
        # an msync per task would wait for the disk to write each one.
        del out


def _compact(path: Path, x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """The rows ``ok`` of a memory-mapped ``x`` in a new spill file beside ``path`` (which is removed)."""
    name = _spill_file(path.parent)
    keep = np.flatnonzero(ok)
    out = np.lib.format.open_memmap(name, "w+", np.uint8, (len(keep), *x.shape[1:]))
    for s in range(0, len(keep), 4096):
        out[s : s + 4096] = x[keep[s : s + 4096]]
    out.flush()
    path.unlink()
    return out


class _bar:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, show: bool, label: str, total: int):
        self.show, self.label, self.total = show, label, total
        self.progress: Progress | None = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.show:
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
        )
        self.progress = progress
        progress.start()
        task = progress.add_task(self.label, total=self.total)
        return lambda n: progress.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
