"""Near-duplicates across splits (the leakage check of ``data describe``).

The same face re-encoded, resized, slightly brightened, shifted or cropped is not an
exact duplicate, yet a model that saw it in training has seen the test answer. Each
image's perceptual fingerprint is its 16x16 grey thumbnail (area averages), less its
mean and scaled to unit length; the cosine of two fingerprints is the thumbnails'
correlation, blind to brightness, contrast, re-encoding and resizing. Two images are
near-duplicates when it is at least :data:`THRESHOLD`, or when it is at least
:data:`CANDIDATE` and the full images correlate at least :data:`THRESHOLD` once
aligned by a shift of up to one pixel (a one-pixel shift of a textured 48x48 face
can lower the thumbnails' correlation to 0.9). A 64-bit DCT hash was measured and
set aside: a one-pixel shift of a real 48x48 face flips up to 16 of its bits.
Constant images have no fingerprint and match nothing (``data describe`` counts
them as blank). Pure numpy.
"""

from __future__ import annotations

import numpy as np

from ferbench.spec.types import SPLITS

#: Thumbnail side.
SIDE = 16
#: Correlation from which two pictures are the same. On real FER2013 (Training vs
#: PrivateTest) every pair seen at >= 0.95 was the same photo; below 0.93 different
#: people appear.
THRESHOLD = 0.95
#: Thumbnail correlation from which the full images are compared, shifts allowed.
CANDIDATE = 0.85


def _area(n: int) -> np.ndarray:
    """The SIDE×n matrix that averages ``n`` pixels into :data:`SIDE` equal bins."""
    edges = np.linspace(0, n, SIDE + 1)
    m = np.zeros((SIDE, n), np.float32)
    for k in range(SIDE):
        for p in range(n):
            m[k, p] = max(0.0, min(p + 1, edges[k + 1]) - max(p, edges[k]))
    out: np.ndarray = m / m.sum(axis=1, keepdims=True)
    return out


def fingerprint(x: np.ndarray, chunk: int | None = None, idx: np.ndarray | None = None) -> np.ndarray:
    """N×256 float32 unit vectors (zero for constant images) of N×H×W×C uint8 images (the rows ``idx`` of
    ``x`` where given), read ``chunk`` images at a time (default: a chunk of
    :data:`ferbench.data.memory.CHUNK_BYTES` as float32): a memory-mapped ``x`` is never copied whole."""
    from ferbench.data.memory import chunk_rows, drop_pages

    rows, cols = _area(x.shape[1]), _area(x.shape[2])
    n = len(x) if idx is None else len(idx)
    step = chunk or chunk_rows(x.shape, itemsize=16)  # about 16 bytes of floats per pixel at once
    out = np.zeros((n, SIDE * SIDE), np.float32)
    for start in range(0, n, step):
        part = x[start : start + step] if idx is None else x[idx[start : start + step]]
        grey = part.astype(np.float32).mean(axis=-1)
        t = (rows @ grey @ cols.T).reshape(len(grey), -1)
        t -= t.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(t, axis=1, keepdims=True)
        out[start : start + step] = np.where(norm > 1e-3, t / np.maximum(norm, 1e-3), 0.0)
        drop_pages(x)
    return out


#: Similarities computed at once (float32): bounds memory to about 32 MB on large datasets.
BLOCK = 1 << 23


def pairs(a: np.ndarray, b: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """``(i, j)`` for every fingerprint ``a[i]`` that matches ``b[j]``, as a K×2 int64 array sorted by j."""
    found = [np.zeros((0, 2), np.int64)]
    chunk = max(1, BLOCK // max(1, len(a)))
    for start in range(0, len(b), chunk):
        j, i = np.nonzero(b[start : start + chunk] @ a.T >= threshold)
        found.append(np.stack([i, j + start], axis=1).astype(np.int64))
    return np.concatenate(found)


def aligned_correlation(a: np.ndarray, b: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Per pair of N×H×W×C images: the best grey-pixel correlation over shifts of -1..1 pixel each way."""
    out = np.full(len(a), -1.0, np.float32)
    for start in range(0, len(a), chunk):
        ga = a[start : start + chunk].astype(np.float32).mean(axis=-1)
        gb = b[start : start + chunk].astype(np.float32).mean(axis=-1)
        core = _unit(ga[:, 1:-1, 1:-1])
        h, w = ga.shape[1:]
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                moved = _unit(gb[:, 1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx])
                out[start : start + chunk] = np.maximum(out[start : start + chunk], (core * moved).sum(axis=1))
    return out


def _unit(g: np.ndarray) -> np.ndarray:
    flat = g.reshape(len(g), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    unit: np.ndarray = flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-3)
    return unit


def matches(a: np.ndarray, b: np.ndarray, a_idx: np.ndarray | None = None, b_idx: np.ndarray | None = None) -> np.ndarray:
    """``(i, j)`` for every image ``a[i]`` that is a near-duplicate of ``b[j]`` (N×H×W×C uint8), sorted by j.
    With ``a_idx`` / ``b_idx`` the images are those rows of ``a`` / ``b`` (read a chunk at a time, not copied)."""
    fa, fb = fingerprint(a, idx=a_idx), fingerprint(b, idx=b_idx)
    cand = pairs(fa, fb, CANDIDATE)
    sure = (fa[cand[:, 0]] * fb[cand[:, 1]]).sum(axis=1) >= THRESHOLD
    rest = np.flatnonzero(~sure)
    ia = cand[rest, 0] if a_idx is None else a_idx[cand[rest, 0]]
    ib = cand[rest, 1] if b_idx is None else b_idx[cand[rest, 1]]
    from ferbench.data.memory import chunk_rows, drop_pages

    step = chunk_rows(a.shape, itemsize=32)  # a pair of images makes about 32 bytes of floats per pixel
    for s in range(0, len(rest), step):  # candidate pairs a chunk at a time; a mapped source's pages let go after each
        sure[rest[s : s + step]] = aligned_correlation(a[ia[s : s + step]], b[ib[s : s + step]]) >= THRESHOLD
        drop_pages(a)
        drop_pages(b)
    found: np.ndarray = cand[sure]
    return found


def across_splits(x: dict[str, np.ndarray]) -> dict[str, dict[str, object]]:
    """For each pair a&b of splits: near-duplicate pairs (index in a, index in b) and how many b images have one."""
    out: dict[str, dict[str, object]] = {}
    for n, a in enumerate(SPLITS):
        for b in SPLITS[n + 1 :]:
            p = matches(x[a], x[b])
            out[f"{a}&{b}"] = {"pairs": len(p), "images": len(np.unique(p[:, 1])), "indices": p.tolist()}
    return out


def leaked(test: np.ndarray, others: list[np.ndarray], test_idx: np.ndarray | None = None,
           others_idx: list[np.ndarray] | None = None) -> np.ndarray:
    """Sorted indices of ``test`` images with a near-duplicate among ``others`` (train, validation); with
    ``test_idx`` and ``others_idx`` the images are those rows of the arrays (one source, read in chunks)."""
    hit = np.zeros(len(test) if test_idx is None else len(test_idx), bool)
    for k, x in enumerate(others):
        hit[matches(x, test, None if others_idx is None else others_idx[k], test_idx)[:, 1]] = True
    return np.flatnonzero(hit)
