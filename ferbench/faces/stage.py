"""The faces stage: image files in, face crops out (detect or read the cache, pick, align, crop, resize).

One pass over the files, in order, with a progress bar when it is long. An
unreadable file is reported and skipped, never the end of the pass; an image
without a face is skipped or kept whole (``on_none``); one with several gives its
largest face or all of them (``on_many``).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ferbench.faces.align import crop_face
from ferbench.faces.cache import DetectionCache, detector_key
from ferbench.faces.detect import Detector, Face, make_detector, pick
from ferbench.spec.types import FacesSpec

if TYPE_CHECKING:
    from PIL import Image

#: Files from which a pass shows a progress bar (detection is slow: MTCNN takes ~0.1-1 s an image on a CPU).
BAR_FROM = 50


@dataclass
class Crops:
    """What the stage made of a list of files."""

    x: np.ndarray  # uint8 N×size×size×C, one row per crop
    source: np.ndarray  # int64 N: the file each crop came from
    faces: list[Face | None]  # per crop: its face, or None for a whole image (on_none: whole)
    found: list[int]  # per file: faces found (after min_size); -1 where the file is unreadable
    digests: list[str]  # per file: sha256 of its bytes ("" where unreadable)
    bad: list[tuple[int, str]] = field(default_factory=list)  # (file index, why)
    detected: int = 0  # files run through the detector
    cached: int = 0  # files whose faces came from the cache


def open_image(path: Path) -> tuple[Image.Image, str]:
    """An image file as upright RGB (EXIF orientation applied) and the sha256 of its bytes; ``ValueError`` if unreadable."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError("file not found") from None
    except OSError as exc:
        raise ValueError(f"cannot read ({exc.strerror})") from None
    try:
        opened = Image.open(io.BytesIO(data))
        opened.load()
        im = ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"corrupt or unsupported image ({type(exc).__name__}: {exc})") from None
    return im, hashlib.sha256(data).hexdigest()


def to_array(im: Image.Image, size: int, color: str) -> np.ndarray:
    """An image as a size×size uint8 array (H×W×C) of the given colour, resized like the data pipeline (bilinear)."""
    from PIL import Image

    im = im.convert("L" if color == "grayscale" else "RGB")
    if im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.uint8).reshape(size, size, -1)


class FaceFinder:
    """Faces of an image: given ones, or the detector's through the cache."""

    def __init__(self, spec: FacesSpec, cache_root: Path | None):
        self.spec = spec
        self.detector: Detector = make_detector(spec.detector, spec.min_size)
        key = detector_key(spec.detector, spec.min_size, self.detector.version())
        self.cache = DetectionCache(cache_root, key) if cache_root is not None and spec.detector != "boxes" else None
        self.detected = self.cached = 0

    def find(self, im: Image.Image, digest: str, given: list[Face] | None) -> list[Face]:
        if self.spec.detector == "boxes" and given is not None:
            return [f for f in given if min(f.box[2], f.box[3]) >= self.spec.min_size]
        hit = self.cache.get(digest) if self.cache is not None else None
        if hit is not None:
            self.cached += 1
            return hit
        faces = self.detector.detect(np.asarray(im))
        self.detected += 1
        if self.cache is not None:
            self.cache.put(digest, faces)
        return faces


@contextmanager
def progress_bar(show: bool, label: str, total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr (``advance()`` per item), or nothing."""
    if not show:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def crop_files(paths: Sequence[Path], spec: FacesSpec, size: int, color: str, *, cache_root: Path | None,
               given: Sequence[list[Face] | None] | None = None, progress: bool = True, label: str = "finding faces") -> Crops:
    """Find, pick and crop the faces of every file (see the module docstring)."""
    finder = FaceFinder(spec, cache_root)
    arrays: list[np.ndarray] = []
    out = Crops(np.zeros(0, np.uint8), np.zeros(0, np.int64), [], [], [])
    source: list[int] = []
    with progress_bar(progress and len(paths) >= BAR_FROM, label, len(paths)) as advance:
        for i, path in enumerate(paths):
            advance()
            try:
                im, digest = open_image(path)
            except ValueError as exc:
                out.bad.append((i, str(exc)))
                out.found.append(-1)
                out.digests.append("")
                continue
            out.digests.append(digest)
            faces = finder.find(im, digest, given[i] if given is not None else None)
            out.found.append(len(faces))
            kept: list[Face | None] = list(pick(faces, spec.on_many)) if faces else ([None] if spec.on_none == "whole" else [])
            for face in kept:
                crop = im if face is None else crop_face(im, face, margin=spec.margin, align=spec.align)
                arrays.append(to_array(crop, size, color))
                out.faces.append(face)
                source.append(i)
    channels = 1 if color == "grayscale" else 3
    out.x = np.stack(arrays) if arrays else np.zeros((0, size, size, channels), np.uint8)
    out.source = np.asarray(source, np.int64)
    out.detected, out.cached = finder.detected, finder.cached
    return out
