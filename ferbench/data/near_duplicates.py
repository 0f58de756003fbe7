"""Near-duplicates across splits, by a perceptual fingerprint (the leakage check of ``data describe``).

The same face re-encoded, resized, slightly brightened, shifted or cropped is not an
exact duplicate, yet a model that saw it in training has seen the test answer. Each
image's fingerprint is its 16x16 grey thumbnail (area averages), less its mean and
scaled to unit length; two images are near-duplicates when their fingerprints'
cosine (the thumbnails' Pearson correlation) is at least :data:`THRESHOLD`. The
correlation ignores brightness and contrast; the thumbnail ignores re-encoding,
resizing and one-pixel shifts of smooth images. A 64-bit DCT hash was measured and
set aside: on real 48x48 FER2013 faces a one-pixel shift flips up to 16 of its bits.
Constant images have no fingerprint and match nothing (``data describe`` counts
them as blank). Pure numpy.
"""

from __future__ import annotations

import numpy as np

from ferbench.spec.types import SPLITS

#: Thumbnail side.
SIDE = 16
#: Correlation of two thumbnails from which they count as the same picture. On real
#: FER2013 (Training vs PrivateTest) every pair seen at >= 0.95 was the same photo;
#: below 0.93 different people appear.
THRESHOLD = 0.95


def _area(n: int) -> np.ndarray:
    """The SIDE×n matrix that averages ``n`` pixels into :data:`SIDE` equal bins."""
    edges = np.linspace(0, n, SIDE + 1)
    m = np.zeros((SIDE, n), np.float32)
    for k in range(SIDE):
        for p in range(n):
            m[k, p] = max(0.0, min(p + 1, edges[k + 1]) - max(p, edges[k]))
    out: np.ndarray = m / m.sum(axis=1, keepdims=True)
    return out


def fingerprint(x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """N×256 float32 unit vectors (zero for constant images) of N×H×W×C uint8 images."""
    rows, cols = _area(x.shape[1]), _area(x.shape[2])
    out = np.zeros((len(x), SIDE * SIDE), np.float32)
    for start in range(0, len(x), chunk):
        grey = x[start : start + chunk].astype(np.float32).mean(axis=-1)
        t = (rows @ grey @ cols.T).reshape(len(grey), -1)
        t -= t.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(t, axis=1, keepdims=True)
        out[start : start + chunk] = np.where(norm > 1e-3, t / np.maximum(norm, 1e-3), 0.0)
    return out


#: Similarities computed at once (float32): bounds memory to about 128 MB on large datasets.
BLOCK = 1 << 25


def pairs(a: np.ndarray, b: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """``(i, j)`` for every fingerprint ``a[i]`` that matches ``b[j]``, as a K×2 int64 array sorted by j."""
    found = [np.zeros((0, 2), np.int64)]
    chunk = max(1, BLOCK // max(1, len(a)))
    for start in range(0, len(b), chunk):
        j, i = np.nonzero(b[start : start + chunk] @ a.T >= threshold)
        found.append(np.stack([i, j + start], axis=1).astype(np.int64))
    return np.concatenate(found)


def across_splits(x: dict[str, np.ndarray]) -> dict[str, dict[str, object]]:
    """For each pair a&b of splits: near-duplicate pairs (index in a, index in b) and how many b images have one."""
    prints = {k: fingerprint(v) for k, v in x.items()}
    out: dict[str, dict[str, object]] = {}
    for n, a in enumerate(SPLITS):
        for b in SPLITS[n + 1 :]:
            p = pairs(prints[a], prints[b])
            out[f"{a}&{b}"] = {"pairs": len(p), "images": len(np.unique(p[:, 1])), "indices": p.tolist()}
    return out


def leaked(test: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    """Sorted indices of ``test`` images with a near-duplicate among ``others`` (train, validation)."""
    prints = fingerprint(test)
    hit = np.zeros(len(test), bool)
    for x in others:
        hit[pairs(fingerprint(x), prints)[:, 1]] = True
    return np.flatnonzero(hit)
