"""Built-in synthetic faces: the default data, generated in memory in seconds.

Each face is drawn with numpy from a few geometric parts (outline, hair, eyes with
irises, brows, nose, mouth, nose wrinkles). The expression lives only in the parts'
geometry: mouth curve, opening, width and asymmetry; brow height and tilt; eye
opening; wrinkles. Each class is a prototype of those parameters; a sample moves
from neutral towards its prototype by a random *intensity* and gets per-parameter
noise, so weak expressions look neutral and fear/surprise, anger/disgust and
sad/fear overlap, as in real data. Pose (position, size, roll, yaw), lighting,
skin and background tone, occluders and pixel noise vary independently of the class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ferbench.data.core import RawData
from ferbench.errors import DataError
from ferbench.spec.types import DatasetSpec

#: Per-image planes, broadcast over pixels (float32 where NumPy keeps it; its stubs cannot follow the dtype).
F32 = npt.NDArray[Any]

VERSION = "faces-1"  # part of the fingerprint: bump when the drawing changes

#: FER2013 training counts per class (contempt, absent there, as rare as disgust).
FER2013_COUNTS = {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "sad": 4830,
                  "surprise": 3171, "neutral": 4965, "contempt": 436}

#: Expression parameters: mouth curve (+ smile), mouth opening, mouth width, mouth
#: asymmetry, brow height, brow tilt (+ inner ends up), eye opening, nose wrinkle.
PROTOTYPES = {
    "neutral":  (0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    "happy":    (1.0, 0.35, 1.25, 0.0, 0.1, 0.0, 0.7, 0.0),
    "sad":      (-0.8, 0.0, 0.9, 0.0, -0.2, 1.0, 0.8, 0.0),
    "surprise": (0.0, 1.0, 0.75, 0.0, 1.0, 0.2, 1.5, 0.0),
    "fear":     (-0.4, 0.55, 1.2, 0.0, 0.7, 0.9, 1.4, 0.0),
    "angry":    (-0.35, 0.05, 0.85, 0.0, -0.7, -1.0, 0.75, 0.35),
    "disgust":  (-0.6, 0.15, 0.95, 0.35, -0.45, -0.4, 0.6, 1.0),
    "contempt": (0.15, 0.0, 1.0, 1.0, 0.0, 0.0, 0.9, 0.0),
}
_SPREAD = np.array([0.3, 0.14, 0.14, 0.25, 0.3, 0.35, 0.18, 0.3])  # per-parameter noise
_BATCH = 256


def class_counts(n: int, weights: np.ndarray) -> np.ndarray:
    """Split ``n`` samples by ``weights`` (largest remainder), at least one per class."""
    k = len(weights)
    if n < k:
        raise DataError(f"dataset.synthetic: {n} samples cannot hold {k} classes; ask for at least {k}")
    share = weights / weights.sum() * n
    counts: npt.NDArray[np.int_] = np.floor(share).astype(int)
    counts[np.argsort(share - counts, kind="stable")[::-1][: n - counts.sum()]] += 1
    for i in np.flatnonzero(counts == 0):  # every class gets a sample, taken from the largest
        counts[i] = 1
        counts[counts.argmax()] -= 1
    out: np.ndarray = counts
    return out


def _weights(spec: DatasetSpec) -> np.ndarray:
    imb = spec.synthetic.imbalance
    if imb == "balanced":
        return np.ones(len(spec.classes))
    if imb == "fer2013":
        return np.array([FER2013_COUNTS[c] for c in spec.classes], float)
    w = np.asarray(imb, float)
    if len(w) != len(spec.classes) or (w <= 0).any():
        raise DataError(
            f"dataset.synthetic.imbalance: {len(w)} weight(s) for {len(spec.classes)} classes "
            f"({', '.join(spec.classes)}); give one positive weight per class"
        )
    return w


def _soft(sd: F32, px: F32) -> F32:
    """Anti-aliased coverage of a shape from its signed distance (in face units)."""
    out: F32 = np.clip(0.5 - sd / px, np.float32(0), np.float32(1))
    return out


def _segment(u: F32, v: F32, a: tuple[F32 | float, F32 | float], b: tuple[F32 | float, F32 | float]) -> F32:
    """Distance from (u, v) to the segment a-b (a, b: per-image coordinate arrays)."""
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = np.clip(((u - ax) * dx + (v - ay) * dy) / (dx * dx + dy * dy + 1e-9), 0, 1)
    out: F32 = np.hypot(u - ax - t * dx, v - ay - t * dy)
    return out


def _draw(p: np.ndarray, size: int, rgb: bool, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Draw len(p) faces with expression parameters ``p`` (B×8); returns uint8 B×S×S×C."""
    b = len(p)
    # Per-image scalars broadcast over pixels; float32 throughout halves the memory traffic.
    def col(a: npt.ArrayLike) -> F32:
        return np.asarray(a, np.float32).reshape(b, 1, 1)

    def U(lo: float, hi: float) -> F32:  # noqa: N802 - one uniform draw per image, as in the formulas
        return col(rng.uniform(lo, hi, b))

    grid = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    X, Y = grid[None, None, :], grid[None, :, None]
    cx, cy, r = U(-0.08, 0.08), U(-0.06, 0.1), U(0.68, 0.85)
    roll = col(np.clip(rng.normal(0, 0.1, b), -0.3, 0.3))
    yaw = U(-0.25, 0.25)
    u = (np.cos(roll) * (X - cx) + np.sin(roll) * (Y - cy)) / r
    v = (-np.sin(roll) * (X - cx) + np.cos(roll) * (Y - cy)) / r
    px = (2.0 / size) / r  # one pixel in face units
    face = _soft((np.hypot(u * (1 + 0.3 * np.abs(yaw)), v / 1.3) - 1) * 0.9, px)
    f = u - yaw * 0.35  # features slide sideways when the head turns
    curve, opening, width, asym, brow_h, tilt, eye_open, wrinkle = (col(p[:, i]) for i in range(8))

    ink = np.zeros((b, size, size), np.float32)  # dark strokes (brows, lids, lips, wrinkles)
    hole = np.zeros_like(ink)  # darkest: irises, mouth opening
    white = np.zeros_like(ink)  # sclera
    ey = U(-0.24, -0.12)
    gaze = U(-0.04, 0.04)
    for side in (-1, 1):
        ex = side * 0.36
        eye_sd = (np.hypot((f - ex) / 0.2, (v - ey) / (0.11 * eye_open)) - 1) * 0.11 * eye_open
        eye = _soft(eye_sd, px)
        white = np.maximum(white, eye)
        hole = np.maximum(hole, eye * _soft(np.hypot(f - ex - gaze, v - ey) - 0.085, px))
        ink = np.maximum(ink, _soft(np.abs(eye_sd) - 0.02, px) * 0.7)
        by = ey - 0.27 - 0.2 * brow_h
        inner = (side * 0.12 + 0 * f, by - 0.2 * tilt)
        outer = (side * 0.6 + 0 * f, by + 0.06 * tilt)
        ink = np.maximum(ink, _soft(_segment(f, v, inner, outer) - 0.07, px))
        ink = np.maximum(ink, wrinkle * 0.6 * _soft(_segment(f, v, (side * 0.05, ey + 0.02), (side * 0.17, ey + 0.1)) - 0.02, px))
    ink = np.maximum(ink, 0.45 * _soft(_segment(f, v, (0 * f, ey + 0.12), (0.04 + 0 * f, 0.27 + 0 * f)) - 0.025, px))
    for side in (-1, 1):
        ink = np.maximum(ink, 0.6 * _soft(np.hypot(f - side * 0.08, v - 0.3) - 0.035, px))
    my = U(0.52, 0.6)
    w = 0.4 * width
    t = np.clip(f / w, -1, 1)
    mid = my - curve * 0.25 * (t * t - 1 / 3) - asym * 0.25 * np.maximum(t, 0) ** 2
    h = opening * 0.4 * np.sqrt(np.clip(1 - t * t, 0, 1))
    inside = np.abs(f) < w
    lips = _soft(np.minimum(np.abs(v - (mid - 0.45 * h)), np.abs(v - (mid + 0.55 * h))) - 0.06, px)
    ends = _soft(np.abs(f) - w, px)
    ink = np.maximum(ink, lips * ends)
    hole = np.maximum(hole, inside * _soft(np.maximum(mid - 0.45 * h - v, v - mid - 0.55 * h), px))

    skin = U(0.35, 0.85)
    back = U(0.0, 1.0) + U(-0.2, 0.2) * X + U(-0.2, 0.2) * Y
    hair = face * (v < U(-1.05, -0.65)) * (rng.uniform(0, 1, b) < 0.8).reshape(b, 1, 1)
    dark = skin * U(0.05, 0.25)
    light = 1 + U(0, 0.4) * (np.cos(a := U(0, 2 * np.pi)) * X + np.sin(a) * Y)
    if rgb:
        tint = (rng.uniform(0.75, 1.05, (b, 1, 1, 3)) * np.array([1.0, 0.82, 0.68])).astype(np.float32)
        skin_c, back_c = skin[..., None] * tint, back[..., None] * rng.uniform(0.3, 1.0, (b, 1, 1, 3)).astype(np.float32)


        def chan(m: F32) -> F32:
            return m[..., None]
    else:
        skin_c, back_c = skin, back

        def chan(m: F32) -> F32:
            return m
    img = back_c * (1 - chan(face)) + skin_c * chan(face)
    img = img * (1 - chan(hair)) + chan(hair) * chan(U(0.02, 0.35))
    img = img * (1 - chan(white) * 0.6) + chan(white) * 0.6 * np.minimum(chan(skin) * 1.3, 1.0)
    img = img * (1 - chan(ink)) + chan(ink) * chan(dark)
    img = img * (1 - chan(hole)) + chan(hole) * chan(dark) * 0.4
    occl = (rng.uniform(0, 1, b) < 0.07).reshape(b, 1, 1)
    ox, oy = U(-0.8, 0.8), U(-0.2, 0.9)
    block = occl * (np.abs(X - ox) < U(0.1, 0.35)) * (np.abs(Y - oy) < U(0.1, 0.3))
    img = img * (1 - chan(block)) + chan(block) * chan(U(0.1, 0.9))
    img = img * chan(light)
    img = img + noise * rng.standard_normal(img.shape, dtype=np.float32)
    out: npt.NDArray[np.uint8] = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    return out if rgb else out[..., None]


def sample_params(labels: list[str], rng: np.random.Generator) -> np.ndarray:
    """Expression parameters for each label: neutral -> prototype by a random intensity, plus noise."""
    neutral = np.array(PROTOTYPES["neutral"])
    proto = np.array([PROTOTYPES[c] for c in labels])
    intensity = rng.uniform(0.4, 1.0, (len(labels), 1))
    p: npt.NDArray[np.float64] = neutral + intensity * (proto - neutral) + rng.normal(0, 1, proto.shape) * _SPREAD
    p[:, 3] *= rng.choice([-1.0, 1.0], len(labels))  # a smirk goes either way
    p[:, 1] = np.maximum(p[:, 1], 0)
    p[:, 2] = np.clip(p[:, 2], 0.6, 1.5)
    p[:, 6] = np.maximum(p[:, 6], 0.3)
    p[:, 7] = np.maximum(p[:, 7], 0)
    return p


def generate(spec: DatasetSpec, seed: int) -> RawData:
    """Draw the three splits of ``spec.synthetic`` for ``spec.classes`` (seeded, in memory)."""
    syn = spec.synthetic
    weights = _weights(spec)
    sizes = {"train": syn.train, "validation": syn.validation, "test": syn.test}
    xs, ys, gs = [], [], []
    for g, n in enumerate(sizes.values()):
        rng = np.random.default_rng([seed, g, 0x5EED])
        y = np.repeat(np.arange(len(spec.classes)), class_counts(n, weights))
        rng.shuffle(y)
        for start in range(0, n, _BATCH):
            yb = y[start : start + _BATCH]
            p = sample_params([spec.classes[i] for i in yb], rng)
            xs.append(_draw(p, spec.image_size, spec.color == "rgb", syn.noise, rng))
        ys.append(y)
        gs.append(np.full(n, g))
    return RawData(
        x=np.concatenate(xs), labels=np.concatenate(ys).astype(np.int16), groups=np.concatenate(gs).astype(np.int16),
        hashes=np.zeros(0, np.uint64), label_names=tuple(spec.classes), group_names=tuple(sizes),
        source=f"synthetic faces ({VERSION}, {syn.train}/{syn.validation}/{syn.test}, imbalance {syn.imbalance})",
        total=sum(sizes.values()),
        names=np.asarray([f"{g}/{i}" for g, n in sizes.items() for i in range(n)], dtype=str),
    )
