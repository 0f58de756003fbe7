"""Generated scenes with real FER2013 faces pasted at known places (some rotated), for the faces tests.

The faces are read from the first rows of the real Kaggle CSV (``../shared/data``);
the background is smooth noise and a few face-free shapes, drawn from a seed.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def fer_faces(csv_gz: Path, n: int, *, usage: str = "Training", skip: int = 0) -> list[tuple[int, np.ndarray]]:
    """The first ``n`` non-blank faces of ``usage`` (after ``skip``) as (label, 48×48 uint8)."""
    out: list[tuple[int, np.ndarray]] = []
    seen = 0
    with gzip.open(csv_gz, "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["Usage"] != usage:
                continue
            img = np.asarray(row["pixels"].split(), np.uint8).reshape(48, 48)
            if img.std() < 10:
                continue
            seen += 1
            if seen <= skip:
                continue
            out.append((int(row["emotion"]), img))
            if len(out) == n:
                break
    return out


@dataclass
class Scene:
    image: Image.Image
    boxes: list[tuple[int, int, int, int]]  # (x, y, w, h) of each pasted face
    labels: list[int]
    angles: list[float]  # degrees each face was turned (counter-clockwise, as PIL turns)


def _background(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    small = rng.integers(40, 220, size=(h // 32 + 1, w // 32 + 1, 3), dtype=np.uint8)
    bg = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
    noise = rng.normal(0, 6, size=(h, w, 3))
    bg = Image.fromarray(np.clip(np.asarray(bg, np.float32) + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(bg)
    for _ in range(4):  # face-free shapes
        x, y = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        color = tuple(int(v) for v in rng.integers(0, 255, 3))
        draw.rectangle((x, y, x + int(rng.integers(10, 40)), y + int(rng.integers(10, 40))), fill=color)
    return bg.filter(ImageFilter.GaussianBlur(0.6))


def scene(faces: list[tuple[int, np.ndarray]], rng: np.random.Generator, *, size: tuple[int, int] = (400, 300),
          rotate: float = 0.0, smallest: int = 88) -> Scene:
    """Paste ``faces`` side by side at random sizes (``smallest``-128 px) and heights; every other one turned by ``rotate`` degrees."""
    w, h = size
    img = _background(rng, w, h)
    boxes, labels, angles = [], [], []
    slot = w // max(1, len(faces))
    for k, (label, face) in enumerate(faces):
        s = int(rng.integers(smallest, min(129, slot - 8)))
        x = k * slot + int(rng.integers(4, slot - s - 3))
        y = int(rng.integers(4, h - s - 4))
        patch = Image.fromarray(face).resize((s, s), Image.Resampling.BICUBIC).convert("RGB")
        mask = Image.new("L", (s, s), 255)
        angle = rotate * (1 if k % 2 else 0) * (1 if rng.random() < 0.5 else -1)
        if angle:
            patch, mask = patch.rotate(angle, resample=Image.Resampling.BILINEAR), mask.rotate(angle)
        img.paste(patch, (x, y), mask)
        boxes.append((x, y, s, s))
        labels.append(label)
        angles.append(angle)
    return Scene(img, boxes, labels, angles)


def empty_scene(rng: np.random.Generator, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A scene without a face."""
    return _background(rng, *size)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
