"""AffectNet-shaped photos for tests and benchmarks: the official layout without the real data.

Each photo is a few hundred pixels on a side (AffectNet's range), a smooth cluttered
background with one synthetic face (:mod:`ferbench.data.synthetic`) pasted at a
random place and size; its face box, expression code, valence and arousal go into
``training.csv`` / ``validation.csv`` with AffectNet's columns, the JPEGs under
``Manually_Annotated_Images/<folder>/``. Training follows AffectNet's class
imbalance, validation holds the same number per class (500 in the release), and a
few training rows carry the codes 8-10 (none, uncertain, non-face) that readers drop.

Photos are made in chunks of :data:`CHUNK`, each seeded by ``(seed, chunk)``, in a
process pool: the same seed gives the same bytes whatever the number of workers.

    python -m ferbench.data.affectnet_synth OUT N [--seed S] [--workers W]
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ferbench.data.kinds import AFFECTNET_CLASSES

#: Photos per chunk: one seeded random stream, one task of the pool.
CHUNK = 64
#: AffectNet's manually annotated training counts per code 0-10 (neutral .. non-face).
TRAINING_COUNTS = (74874, 134415, 25459, 14090, 6378, 3803, 24882, 3750, 33088, 11645, 82414)
#: The share of training rows given a code 8-10 here (the release has more; they only cost parsing).
NOT_A_CLASS_SHARE = 0.02
PHOTO_SIDES = (240, 640)  # smallest and largest photo side, pixels
FACE_DRAWN = 96  # faces are drawn at this size, then resized to their box
COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
           "facial_landmarks", "expression", "valence", "arousal")


@dataclass(frozen=True)
class Generated:
    """What :func:`generate_release` wrote."""

    root: Path
    training: int  # rows of training.csv (codes 8-10 included)
    validation: int
    seconds: float


def plan_codes(n: int, seed: int, validation_per_class: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Expression code and split (0 training, 1 validation) of each of ``n`` photos, in file order."""
    per_class = validation_per_class if validation_per_class is not None else max(1, min(500, n // 80))
    n_val = per_class * len(AFFECTNET_CLASSES)
    if n < n_val + len(AFFECTNET_CLASSES):
        raise ValueError(f"{n} photos cannot hold {n_val} validation faces and one training face per class; ask for more")
    rng = np.random.default_rng([seed, 0xAFF])
    n_train = n - n_val
    odd = int(round(n_train * NOT_A_CLASS_SHARE))
    w = np.asarray(TRAINING_COUNTS[: len(AFFECTNET_CLASSES)], float)
    counts = np.maximum(1, np.floor(w / w.sum() * (n_train - odd)).astype(int))
    counts[1] += n_train - odd - counts.sum()  # the remainder to happy, the largest class
    train = np.concatenate([np.repeat(np.arange(len(w)), counts), rng.integers(8, 11, odd)])
    rng.shuffle(train)
    val = np.repeat(np.arange(len(AFFECTNET_CLASSES)), per_class)
    codes = np.concatenate([train, val])
    return codes, np.concatenate([np.zeros(n_train, int), np.ones(n_val, int)])


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A smooth colour field with some clutter: random low-resolution colours upscaled, plus noise."""
    from PIL import Image

    small = rng.integers(0, 256, (int(rng.integers(3, 9)), int(rng.integers(3, 9)), 3), dtype=np.uint8)
    big = np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC), np.int16)
    noise = rng.integers(-12, 13, (h, w, 1), dtype=np.int16)
    out: np.ndarray = np.clip(big + noise, 0, 255).astype(np.uint8)
    return out


def _chunk(args: tuple[Path, int, int, int, list[int], list[int]]) -> list[list[object]]:
    """Write the photos ``start .. start + len(codes)`` and return their CSV rows (split first)."""
    from PIL import Image

    from ferbench.data.synthetic import _draw, sample_params

    root, seed, chunk, start, codes, splits = args
    rng = np.random.default_rng([seed, chunk, 0xFACE])
    names = [AFFECTNET_CLASSES[c] if c < len(AFFECTNET_CLASSES) else "neutral" for c in codes]
    faces = _draw(sample_params(names, rng), FACE_DRAWN, True, 0.04, rng)
    rows: list[list[object]] = []
    images = root / "Manually_Annotated_Images"
    for k, code in enumerate(codes):
        i = start + k
        w, h = (int(v) for v in rng.integers(PHOTO_SIDES[0], PHOTO_SIDES[1] + 1, 2))
        side = int(rng.uniform(0.35, 0.8) * min(w, h))
        fx, fy = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        photo = _background(rng, w, h)
        if code != 10:  # non-face rows get no face
            photo[fy : fy + side, fx : fx + side] = np.asarray(Image.fromarray(faces[k]).resize((side, side), Image.Resampling.BILINEAR))
        rel = f"{i // 1000 + 1}/{seed:x}{i:08d}.jpg"
        buf = io.BytesIO()
        Image.fromarray(photo).save(buf, "JPEG", quality=int(rng.integers(75, 96)))
        (images / rel).parent.mkdir(parents=True, exist_ok=True)
        (images / rel).write_bytes(buf.getvalue())
        valence, arousal = (round(float(v), 6) for v in rng.uniform(-1, 1, 2))
        rows.append([splits[k], rel, fx, fy, side, side, "", int(code), valence, arousal])
    return rows


def generate_release(root: Path, n: int, *, seed: int = 0, validation_per_class: int | None = None,
                     workers: int | None = None, progress: bool = False) -> Generated:
    """Write ``n`` AffectNet-shaped photos and the two list files under ``root`` (seeded; parallel)."""
    t0 = time.perf_counter()
    codes, splits = plan_codes(n, seed, validation_per_class)
    root.mkdir(parents=True, exist_ok=True)
    tasks = [(root, seed, c, s, codes[s : s + CHUNK].tolist(), splits[s : s + CHUNK].tolist())
             for c, s in enumerate(range(0, n, CHUNK))]
    workers = workers or os.cpu_count() or 1
    from ferbench.data.images import _bar, pool_context

    tables: dict[int, list[list[object]]] = {0: [], 1: []}
    with _bar(progress, "generating AffectNet-shaped photos", n) as advance:
        if workers == 1 or len(tasks) == 1:
            results = map(_chunk, tasks)
            done = [_collect(tables, rows, advance) for rows in results]
        else:
            with ProcessPoolExecutor(workers, mp_context=pool_context() or get_context("spawn")) as pool:
                done = [_collect(tables, rows, advance) for rows in pool.map(_chunk, tasks)]
    assert len(done) == len(tasks)
    for split, name in ((0, "training.csv"), (1, "validation.csv")):
        with open(root / name, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(COLUMNS)
            out.writerows(tables[split])
    return Generated(root, len(tables[0]), len(tables[1]), time.perf_counter() - t0)


def _collect(tables: dict[int, list[list[object]]], rows: list[list[object]], advance: Callable[[int], None]) -> int:
    for row in rows:
        tables[0 if row[0] == 0 else 1].append(row[1:])
    advance(len(rows))
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    """``python -m ferbench.data.affectnet_synth OUT N [--seed S] [--workers W]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ferbench.data.affectnet_synth", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the folder to write the release into")
    parser.add_argument("n", type=int, help="how many photos")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    parser.add_argument("--validation-per-class", type=int, default=None, help="default: min(500, N/80)")
    a = parser.parse_args(argv)
    try:
        g = generate_release(a.out, a.n, seed=a.seed, workers=a.workers, validation_per_class=a.validation_per_class, progress=True)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{g.training + g.validation:,} photos ({g.training:,} training.csv rows, {g.validation:,} validation.csv rows) "
          f"in {g.root} in {g.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
