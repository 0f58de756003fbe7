"""Decode, crop and resize image files into uint8 arrays, many at a time.

Decoding runs in a thread pool: Pillow releases the GIL while it decodes and
resizes, so threads use every core without pickling arrays between processes
(and without re-importing the caller's script, which spawn-based pools do).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rich.progress import Progress

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})


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
    try:
        im: Image.Image = Image.open(io.BytesIO(data))
        full = im.size
        if item.box is not None and im.format == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the face is large:
            # much faster, and the face still has >= 2x the target resolution.
            reduce = min(item.box[2], item.box[3]) / (2 * size)
            if reduce >= 2:
                im.draft(mode, (int(full[0] / reduce), int(full[1] / reduce)))
        im.load()
        im = im.convert(mode)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"corrupt or unsupported image ({type(exc).__name__}: {exc})") from None
    if item.box is not None:
        sx, sy = im.size[0] / full[0], im.size[1] / full[1]
        x, y, w, h = item.box
        left, top = max(0, round(x * sx)), max(0, round(y * sy))
        right, bottom = min(im.size[0], round((x + w) * sx)), min(im.size[1], round((y + h) * sy))
        if right - left < 2 or bottom - top < 2:
            raise ValueError(f"face box {item.box} lies outside the {full[0]}x{full[1]} image")
        im = im.crop((left, top, right, bottom))
    if im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.uint8).reshape(size, size, -1), digest


def decode_many(
    items: Sequence[Item],
    size: int,
    color: str,
    *,
    progress: bool = True,
    label: str = "decoding",
    workers: int | None = None,
) -> tuple[np.ndarray, list[str], list[tuple[int, str]]]:
    """Decode ``items`` in parallel, in order.

    Returns the images of the readable items (N×size×size×C), the sha256 of every
    item's bytes ("" where unreadable), and ``(index, reason)`` for the unreadable.
    """
    channels = 1 if color == "grayscale" else 3
    out = np.zeros((len(items), size, size, channels), np.uint8)
    digests = [""] * len(items)
    bad: list[tuple[int, str]] = []
    step = 64

    def work(start: int) -> list[tuple[int, str]]:
        problems = []
        for i in range(start, min(start + step, len(items))):
            try:
                out[i], digests[i] = decode(items[i], size, color)
            except ValueError as exc:
                problems.append((i, str(exc)))
        return problems

    starts = range(0, len(items), step)
    workers = workers or min(8, os.cpu_count() or 1)
    with _bar(progress and len(items) >= 1000, label, len(items)) as advance, ThreadPoolExecutor(workers) as pool:
        for problems in pool.map(work, starts):
            bad += problems
            advance(step)
    ok = np.ones(len(items), bool)
    ok[[i for i, _ in bad]] = False
    return out[ok], digests, bad


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

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
        )
        self.progress.start()
        task = self.progress.add_task(self.label, total=self.total)
        progress = self.progress
        return lambda n: progress.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
