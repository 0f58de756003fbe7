"""Scoring image files: every face's box, predicted class and class probabilities.

Without a faces stage each image is one input, decoded exactly as the data pipeline
decodes a class-folder image (so a run's own test images get the probabilities its
record holds); with one, each face found is cropped as :mod:`ferbench.faces` crops a
dataset's photos.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ferbench.faces.detect import Face
from ferbench.predict.loader import LoadedModel
from ferbench.spec.types import FacesSpec


@dataclass
class FacePrediction:
    """One face of an image (``face`` None: the whole image was the input)."""

    face: Face | None
    label: str
    probabilities: np.ndarray  # float32, one per class

    def to_dict(self, classes: Sequence[str]) -> dict[str, Any]:
        return {"box": None if self.face is None else [round(v, 1) for v in self.face.box], "class": self.label,
                "probabilities": {c: float(p) for c, p in zip(classes, self.probabilities, strict=True)}}


@dataclass
class ImagePrediction:
    """One input file: its faces' predictions, or why it could not be read."""

    path: Path
    faces: list[FacePrediction] = field(default_factory=list)
    error: str | None = None


def _whole_images(paths: Sequence[Path], size: int, color: str, progress: bool) -> tuple[np.ndarray, list[int], list[tuple[int, str]]]:
    from ferbench.data.images import Item, decode
    from ferbench.faces.stage import progress_bar

    arrays, source, bad = [], [], []
    with progress_bar(progress and len(paths) >= 50, "reading images", len(paths)) as advance:
        for i, p in enumerate(paths):
            advance()
            try:
                arrays.append(decode(Item(p), size, color)[0])
                source.append(i)
            except ValueError as exc:
                bad.append((i, str(exc)))
    x = np.stack(arrays) if arrays else np.zeros((0, size, size, 1 if color == "grayscale" else 3), np.uint8)
    return x, source, bad


#: Images per model call while a progress bar shows (a multiple of every batch size used, so batches stay the same).
CHUNK = 1024


def _scored(model: LoadedModel, x: np.ndarray, progress: bool) -> np.ndarray:
    """The model's probabilities on ``x``, in chunks under a progress bar when there are many."""
    from ferbench.faces.stage import progress_bar

    if not len(x):
        return np.zeros((0, len(model.classes)), np.float32)
    out = []
    chunks = range(0, len(x), CHUNK)
    with progress_bar(progress and len(chunks) > 1, "predicting", len(chunks)) as advance:
        for i in chunks:
            out.append(model.predict(x[i:i + CHUNK]))
            advance()
    return np.concatenate(out)


def predict_files(model: LoadedModel, paths: Sequence[Path], *, faces: FacesSpec | None, cache_root: Path | None = None,
                  progress: bool = True) -> list[ImagePrediction]:
    """Score every file in ``paths`` (in order); unreadable files carry their reason instead of faces."""
    out = [ImagePrediction(p) for p in paths]
    boxes: list[Face | None]
    if faces is None:
        x, source, bad = _whole_images(paths, model.image_size, model.color, progress)
        boxes = [None] * len(source)
    else:
        from ferbench.faces.stage import crop_files

        crops = crop_files(paths, faces, model.image_size, model.color, cache_root=cache_root, progress=progress)
        x, source, bad, boxes = crops.x, crops.source.tolist(), crops.bad, crops.faces
    for i, why in bad:
        out[i].error = why
    prob = _scored(model, x, progress)
    for i, face, p in zip(source, boxes, prob, strict=True):
        out[i].faces.append(FacePrediction(face, model.classes[int(np.argmax(p))], np.asarray(p, np.float32)))
    return out
