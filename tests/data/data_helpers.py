"""Builders for small on-disk datasets (FER2013 CSV, class folders, AffectNet lists)."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any

import numpy as np


def pixels(rng: np.random.Generator, n: int = 2304) -> str:
    return " ".join(map(str, rng.integers(0, 256, n)))


def write_fer_csv(path: Path, rows: list[tuple[Any, str, str]], header: str = "emotion,pixels,Usage") -> Path:
    """Write a FER2013-style CSV (plain, .gz or .zip by suffix) with raw row strings."""
    text = header + "\n" + "".join(f"{e},{p},{u}\n" for e, p, u in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    elif path.suffix == ".zip":
        import zipfile

        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("fer2013/fer2013.csv", text)
    else:
        path.write_text(text)
    return path


def small_fer(rng: np.random.Generator, per_split: dict[str, int] | None = None, side: int = 48) -> tuple[list, np.ndarray, np.ndarray]:
    """Rows for every class in every split; returns rows, images (N,side,side) and labels."""
    per_split = per_split or {"Training": 21, "PublicTest": 7, "PrivateTest": 7}
    rows, imgs, labels = [], [], []
    for usage, n in per_split.items():
        for i in range(n):
            img = rng.integers(0, 256, (side, side))
            rows.append((i % 7, " ".join(map(str, img.ravel())), usage))
            imgs.append(img)
            labels.append(i % 7)
    return rows, np.array(imgs, np.uint8), np.array(labels)


def write_image(path: Path, arr: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.astype(np.uint8)).save(path)
    return path


def class_tree(root: Path, splits: dict[str, dict[str, int]], rng: np.random.Generator, size: int = 48, ext: str = ".png") -> dict[str, np.ndarray]:
    """``root/<split>/<class>/<i>.png`` with constant-per-class grey levels; returns split -> levels."""
    levels = {}
    for split, classes in splits.items():
        vals = []
        for k, (cls, n) in enumerate(classes.items()):
            for i in range(n):
                level = 20 + 30 * k
                img = np.full((size, size), level, np.uint8)
                img[0, 0] = i  # make every file different
                write_image(root / split / cls / f"{i}{ext}", img)
                vals.append(level)
        levels[split] = np.array(vals)
    return levels


def write_affectnet_csv(path: Path, rows: list[list[Any]], header: bool = True) -> Path:
    from ferbench.data.affectnet import COLUMNS

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        if header:
            w.writerow(COLUMNS)
        w.writerows(rows)
    return path
