"""Class-folder datasets: ``<split>/<class>/*.jpg`` or ``<class>/*.jpg``.

The FER2013 Kaggle folder copy (``train/``, ``test/``), the AffectNet folder copies
(``train/``, ``val/``, class names or digits) and any image folder share this
loader; what differs is only how folder names map to classes (see classes.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferbench.data.core import RawData
from ferbench.data.images import IMAGE_EXTENSIONS, Item, decode_many
from ferbench.errors import DataError


def _visible(p: Path) -> bool:
    return not p.name.startswith((".", "_"))


def _images(folder: Path) -> tuple[list[Path], int]:
    """Image files directly in ``folder`` (sorted) and how many other files it holds."""
    imgs, other = [], 0
    for p in sorted(folder.iterdir()):
        if not p.is_file() or not _visible(p):
            continue
        if p.suffix.lower() in IMAGE_EXTENSIONS:
            imgs.append(p)
        elif p.name.lower() not in {"thumbs.db", "desktop.ini"}:
            other += 1
    return imgs, other


@dataclass
class FolderScan:
    """What a class-folder tree holds: split -> class folder -> files."""

    root: Path
    splits: dict[str, dict[str, list[Path]]]
    empty: list[Path] = field(default_factory=list)
    ignored: int = 0
    flat: bool = False

    @property
    def files(self) -> list[Path]:
        return [f for classes in self.splits.values() for fs in classes.values() for f in fs]


def scan_folders(root: Path) -> FolderScan:
    """Find the splits and class folders under ``root`` (no image is opened)."""
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; check dataset.path")
    subdirs = [d for d in sorted(root.iterdir()) if d.is_dir() and _visible(d)]
    if not subdirs:
        raise DataError(f"{root}: holds no folders; expected <split>/<class>/*.jpg or <class>/*.jpg")
    direct = {d: _images(d) for d in subdirs}
    if any(imgs for imgs, _ in direct.values()):
        # <class>/*.jpg: one split, "all"; derive validation and test from it
        scan = FolderScan(root, {"all": {}}, flat=True)
        for d, (imgs, other) in direct.items():
            scan.ignored += other
            if imgs:
                scan.splits["all"][d.name] = imgs
            else:
                scan.empty.append(d)
        return scan
    scan = FolderScan(root, {})
    for split in subdirs:
        classes = [d for d in sorted(split.iterdir()) if d.is_dir() and _visible(d)]
        if not classes:
            continue
        scan.splits[split.name] = {}
        for c in classes:
            imgs, other = _images(c)
            scan.ignored += other
            if imgs:
                scan.splits[split.name][c.name] = imgs
            else:
                scan.empty.append(c)
    if not scan.splits:
        raise DataError(f"{root}: no class folders with images found; expected <split>/<class>/*.jpg (e.g. train/happy/1.jpg)")
    return scan


def read_folders(scan: FolderScan, size: int, color: str, source: str, *, progress: bool) -> tuple[RawData, list[str], list[tuple[str, str]]]:
    """Decode every image of ``scan``.

    Returns the data, the sha256 of each file (in ``scan.files`` order) and the
    unreadable files as ``(relative path, reason)``.
    """
    label_names = tuple(sorted({c for classes in scan.splits.values() for c in classes}))
    group_names = tuple(scan.splits)
    items, labels, groups = [], [], []
    for g, classes in enumerate(scan.splits.values()):
        for cls, files in classes.items():
            items += [Item(f) for f in files]
            labels += [label_names.index(cls)] * len(files)
            groups += [g] * len(files)
    x, digests, bad = decode_many(items, size, color, progress=progress, label=f"decoding {scan.root.name}")
    ok = np.ones(len(items), bool)
    ok[[i for i, _ in bad]] = False
    raw = RawData(
        x=x,
        labels=np.asarray(labels, np.int16)[ok],
        groups=np.asarray(groups, np.int16)[ok],
        hashes=np.zeros(0, np.uint64),
        label_names=label_names,
        group_names=group_names,
        source=source,
        rows=np.flatnonzero(ok).astype(np.int64),
    )
    return raw, digests, [(str(items[i].path.relative_to(scan.root)), why) for i, why in bad]
