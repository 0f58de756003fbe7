"""Corrupted copies of images, for ``evaluate.robustness``: pure array transforms, no TensorFlow.

One table, :data:`CORRUPTIONS`, names every corruption with its parameter at
severities 1 to 5. Each takes ``uint8`` images ``N x H x W x C`` and returns a new
array of the same shape and dtype (so the range 0..255 is kept). Randomness (noise,
the patch's place, the rotation's sign) comes from a generator seeded by the caller's
seed, the corruption and the severity, so an evaluation is repeatable to the bit.

Face occlusions cover fixed regions of a 48x48 aligned face (FER2013's framing),
scaled to the input size: the eyes (a band across rows 12-25 at severity 5), the
mouth (rows 31-44) and a square patch at a random place. JPEG uses Pillow's encoder.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import get_args

import numpy as np

from ferbench.spec.enums import CorruptionName

CORRUPTION_NAMES: tuple[str, ...] = get_args(CorruptionName)
SEVERITIES = (1, 2, 3, 4, 5)
#: The side of the face the occlusion regions are drawn for.
FACE_SIDE = 48

Transform = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


def _clip(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return out


def gaussian_noise(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise of standard deviation ``sigma`` (0..255 scale)."""
    return _clip(x.astype(np.float32) + rng.normal(0.0, sigma, x.shape).astype(np.float32))


def _kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(np.ceil(3 * sigma)))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    out: np.ndarray = k / k.sum()
    return out


def gaussian_blur(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Separable Gaussian blur of ``sigma`` pixels at 48x48 (scaled to the image), edges reflected."""
    s = sigma * x.shape[1] / FACE_SIDE
    k = _kernel(s)
    r = len(k) // 2
    f = np.pad(x.astype(np.float32), ((0, 0), (r, r), (r, r), (0, 0)), mode="reflect")
    rows = sum(k[i] * f[:, i:i + x.shape[1], :, :] for i in range(len(k)))
    cols = sum(k[i] * rows[:, :, i:i + x.shape[2], :] for i in range(len(k)))
    return _clip(np.asarray(cols))


def jpeg(x: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    """Each image through a JPEG encoder at ``quality`` and back."""
    from PIL import Image

    out = np.empty_like(x)
    for i, img in enumerate(x):
        buf = io.BytesIO()
        Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(buf, format="JPEG", quality=int(quality))
        buf.seek(0)
        back = np.asarray(Image.open(buf))
        out[i] = back.reshape(img.shape)
    return out


def brightness(x: np.ndarray, delta: float, rng: np.random.Generator) -> np.ndarray:
    """Add ``delta`` (0..255 scale) to every pixel."""
    return _clip(x.astype(np.float32) + delta)


def contrast(x: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Scale each image's deviation from its mean by ``factor`` (< 1 flattens)."""
    f = x.astype(np.float32)
    mean = f.mean(axis=(1, 2, 3), keepdims=True)
    return _clip(mean + (f - mean) * factor)


def rotation(x: np.ndarray, degrees: float, rng: np.random.Generator) -> np.ndarray:
    """Rotate each image by ``degrees`` about its centre (sign drawn per image), bilinear, edges repeated."""
    return _rotate(x, degrees, _rotation_signs(x.shape, degrees, rng))


def _rotation_signs(shape: tuple[int, ...], degrees: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return (rng.choice(np.array([-1.0, 1.0]), size=shape[0]),)


def _rotate(x: np.ndarray, degrees: float, draws: tuple[np.ndarray, ...]) -> np.ndarray:
    n, h, w, _ = x.shape
    signs = draws[0]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    out = np.empty_like(x)
    f = x.astype(np.float32)
    for i in range(n):
        a = np.deg2rad(degrees * signs[i])
        sy = np.clip(cy + (yy - cy) * np.cos(a) - (xx - cx) * np.sin(a), 0, h - 1)
        sx = np.clip(cx + (yy - cy) * np.sin(a) + (xx - cx) * np.cos(a), 0, w - 1)
        y0, x0 = np.floor(sy).astype(int), np.floor(sx).astype(int)
        y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
        wy, wx = (sy - y0)[..., None], (sx - x0)[..., None]
        img = f[i]
        top = img[y0, x0] * (1 - wx) + img[y0, x1] * wx
        bottom = img[y1, x0] * (1 - wx) + img[y1, x1] * wx
        out[i] = _clip(top * (1 - wy) + bottom * wy)
    return out


def _band(x: np.ndarray, centre: float, half: float, left: float, right: float) -> np.ndarray:
    """Black out rows ``centre +- half`` and columns ``left..right`` (48x48 coordinates, scaled)."""
    h, w = x.shape[1], x.shape[2]
    sy, sx = h / FACE_SIDE, w / FACE_SIDE
    out: np.ndarray = x.copy()
    out[:, int(round((centre - half) * sy)):int(round((centre + half) * sy)), int(round(left * sx)):int(round(right * sx)), :] = 0
    return out


def occlusion_eyes(x: np.ndarray, half: float, rng: np.random.Generator) -> np.ndarray:
    """A black band over both eyes (row 19 of 48, columns 4-44), ``2 * half`` rows high."""
    return _band(x, 19.0, half, 4.0, 44.0)


def occlusion_mouth(x: np.ndarray, half: float, rng: np.random.Generator) -> np.ndarray:
    """A black band over the mouth (row 37 of 48, columns 12-36), ``2 * half`` rows high."""
    return _band(x, 37.5, half, 12.0, 36.0)


def occlusion_patch(x: np.ndarray, side: float, rng: np.random.Generator) -> np.ndarray:
    """A black square of ``side`` pixels (at 48x48, scaled) at a random place inside each image."""
    return _patch(x, side, _patch_places(x.shape, side, rng))


def _patch_side(shape: tuple[int, ...], side: float) -> tuple[int, int]:
    h, w = shape[1], shape[2]
    return max(1, int(round(side * h / FACE_SIDE))), max(1, int(round(side * w / FACE_SIDE)))


def _patch_places(shape: tuple[int, ...], side: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    n, h, w = shape[:3]
    ph, pw = _patch_side(shape, side)
    return rng.integers(0, h - ph + 1, size=n), rng.integers(0, w - pw + 1, size=n)


def _patch(x: np.ndarray, side: float, draws: tuple[np.ndarray, ...]) -> np.ndarray:
    ph, pw = _patch_side(x.shape, side)
    top, left = draws
    out: np.ndarray = x.copy()
    for i in range(len(x)):
        out[i, top[i]:top[i] + ph, left[i]:left[i] + pw, :] = 0
    return out


@dataclass(frozen=True)
class Corruption:
    """A corruption's transform and its parameter at severities 1..5."""

    transform: Transform
    levels: tuple[float, float, float, float, float]
    what: str
    #: Where the randomness is per image: drawn for all N images at once (``(shape, level, rng)``)
    #: and the transform applied to any run of rows with its draws, so chunks give the bytes of one pass.
    draw: Callable[[tuple[int, ...], float, np.random.Generator], tuple[np.ndarray, ...]] | None = None
    apply: Callable[[np.ndarray, float, tuple[np.ndarray, ...]], np.ndarray] | None = None


#: Every corruption and its parameter by severity (noise and brightness on the 0..255 scale).
CORRUPTIONS: dict[str, Corruption] = {
    "gaussian_noise": Corruption(gaussian_noise, (10.0, 20.0, 30.0, 45.0, 60.0), "noise standard deviation"),
    "gaussian_blur": Corruption(gaussian_blur, (0.5, 0.8, 1.1, 1.5, 2.0), "blur sigma, pixels at 48x48"),
    "jpeg": Corruption(jpeg, (50.0, 30.0, 20.0, 10.0, 5.0), "JPEG quality"),
    "brightness": Corruption(brightness, (25.0, 50.0, 75.0, 100.0, 125.0), "added to every pixel"),
    "contrast": Corruption(contrast, (0.7, 0.55, 0.4, 0.3, 0.2), "contrast factor"),
    "rotation": Corruption(rotation, (6.0, 12.0, 18.0, 24.0, 30.0), "degrees", _rotation_signs, _rotate),
    "occlusion_eyes": Corruption(occlusion_eyes, (2.0, 3.0, 4.0, 5.5, 7.0), "half height of the band, rows at 48x48"),
    "occlusion_mouth": Corruption(occlusion_mouth, (2.0, 3.0, 4.0, 5.5, 7.0), "half height of the band, rows at 48x48"),
    "occlusion_patch": Corruption(occlusion_patch, (8.0, 12.0, 16.0, 20.0, 24.0), "side of the square at 48x48", _patch_places, _patch),
}


def _checked(images: np.ndarray, name: str, severity: int) -> np.ndarray:
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose from {', '.join(CORRUPTION_NAMES)}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity} is not one of 1..5")
    x = np.asarray(images) if not isinstance(images, np.memmap) else images
    if x.ndim != 4 or x.dtype != np.uint8:
        raise ValueError(f"expected uint8 images N x H x W x C, got {x.dtype} {x.shape}")
    return x


def _rng(name: str, severity: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode()), severity])


def corrupt(images: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """A corrupted copy of ``images`` (uint8 N x H x W x C); the same arguments give the same bytes."""
    x = _checked(images, name, severity)
    c = CORRUPTIONS[name]
    return c.transform(x, c.levels[severity - 1], _rng(name, severity, seed))


def corrupt_chunks(images: np.ndarray, name: str, severity: int, seed: int = 0, rows: int = 1024) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, corrupted copy of images[start:start + rows])`` in order: the bytes of :func:`corrupt`,
    ``rows`` images at a time (a memory-mapped ``images`` is read a chunk at a time, never copied whole)."""
    from ferbench.data.memory import chunks

    x = _checked(images, name, severity)
    c = CORRUPTIONS[name]
    level, rng = c.levels[severity - 1], _rng(name, severity, seed)
    draws = c.draw(x.shape, level, rng) if c.draw is not None else None
    for start, part in chunks(x, rows):
        if draws is not None and c.apply is not None:
            yield start, c.apply(part, level, tuple(d[start : start + len(part)] for d in draws))
        else:  # no randomness, or per-pixel noise: drawn in order, chunk after chunk, as in one pass
            yield start, c.transform(part, level, rng)
