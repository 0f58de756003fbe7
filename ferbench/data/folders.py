"""Class-folder datasets: ``<split>/<class>/*.jpg`` or ``<class>/*.jpg``.

The FER2013 Kaggle folder copy (``train/``, ``test/``), the AffectNet folder copies
(``train/``, ``val/``, class names or digits) and any image folder share this
loader; what differs is only how folder names map to classes (see classes.py).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferbench.data.core import RawData
from ferbench.data.images import IMAGE_EXTENSIONS, Item, decode_many
from ferbench.data.names import relative, unique
from ferbench.errors import DataError
from ferbench.spec.types import FacesSpec


def _visible(p: Path) -> bool:
    return not p.name.startswith((".", "_"))


def _entries(folder: Path) -> list[Path]:
    """What ``folder`` holds, sorted; a folder that cannot be listed is a :class:`DataError` naming it."""
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        raise DataError(
            f"{folder}: cannot list this folder ({exc.strerror or exc}); make it readable (chmod u+rx) or move it out of dataset.path"
        ) from None


def _kind(p: Path) -> str:
    """``file``, ``folder``, or why the entry can be neither (a dangling symlink, a FIFO...)."""
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        return "dangling symlink" if p.is_symlink() else "vanished"
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    return "socket" if stat.S_ISSOCK(mode) else "device file"


@dataclass
class _Listing:
    """One class folder: its images, how many other files, and entries that are not files at all."""

    images: list[Path]
    other: int
    odd: list[tuple[Path, str]]


def _images(folder: Path) -> _Listing:
    """Image files directly in ``folder`` (sorted), other files, and entries that are not files."""
    out = _Listing([], 0, [])
    for p in _entries(folder):
        if not _visible(p):
            continue
        kind = _kind(p)
        if kind == "folder":
            continue
        if kind != "file":
            out.odd.append((p, kind))
        elif p.suffix.lower() in IMAGE_EXTENSIONS:
            out.images.append(p)
        elif p.name.lower() not in {"thumbs.db", "desktop.ini"}:
            out.other += 1
    return out


@dataclass
class FolderScan:
    """What a class-folder tree holds: split -> class folder -> files."""

    root: Path
    splits: dict[str, dict[str, list[Path]]]
    empty: list[Path] = field(default_factory=list)
    ignored: int = 0
    flat: bool = False
    #: Entries of class folders that are not files (dangling symlinks, FIFOs...), and what they are.
    odd: list[tuple[Path, str]] = field(default_factory=list)

    def add(self, split: str, folder: Path, listing: _Listing) -> None:
        """Record one class folder of ``split``."""
        self.ignored += listing.other
        self.odd += listing.odd
        if listing.images:
            self.splits[split][folder.name] = listing.images
        else:
            self.empty.append(folder)

    @property
    def files(self) -> list[Path]:
        return [f for classes in self.splits.values() for fs in classes.values() for f in fs]


def scan_folders(root: Path) -> FolderScan:
    """Find the splits and class folders under ``root`` (no image is opened)."""
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; check dataset.path")
    subdirs = [d for d in _entries(root) if d.is_dir() and _visible(d)]
    if not subdirs:
        raise DataError(f"{root}: holds no folders; expected <split>/<class>/*.jpg or <class>/*.jpg")
    direct = {d: _images(d) for d in subdirs}
    if any(listing.images for listing in direct.values()):
        # <class>/*.jpg: one split, "all"; derive validation and test from it
        scan = FolderScan(root, {"all": {}}, flat=True)
        for d, listing in direct.items():
            scan.add("all", d, listing)
        return scan
    scan = FolderScan(root, {})
    for split in subdirs:
        classes = [d for d in _entries(split) if d.is_dir() and _visible(d)]
        if not classes:
            continue
        scan.splits[split.name] = {}
        for c in classes:
            scan.add(split.name, c, _images(c))
    if not scan.splits:
        raise DataError(f"{root}: no class folders with images found; expected <split>/<class>/*.jpg (e.g. train/happy/1.jpg)")
    return scan


def read_folders(scan: FolderScan, size: int, color: str, source: str, *, progress: bool,
                 faces: FacesSpec | None = None, cache_root: Path | None = None) -> tuple[RawData, list[str], list[tuple[str, str]]]:
    """Decode every image of ``scan``, or with ``faces`` crop the faces of each photo.

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
    if faces is not None:
        return _read_photos(scan, items, labels, groups, label_names, group_names, source, size, color, progress, faces, cache_root)
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
        names=np.asarray(relative([it.path for it in items], scan.root), dtype=str)[ok],
    )
    return raw, digests, [(str(items[i].path.relative_to(scan.root)), why) for i, why in bad]


def _read_photos(scan: FolderScan, items: list[Item], labels: list[int], groups: list[int], label_names: tuple[str, ...],
                 group_names: tuple[str, ...], source: str, size: int, color: str, progress: bool, faces: FacesSpec,
                 cache_root: Path | None) -> tuple[RawData, list[str], list[tuple[str, str]]]:
    from ferbench.data.photos import crop_photos

    crops = crop_photos([i.path for i in items], labels, groups, label_names, group_names, faces, size, color,
                        cache_root=cache_root, progress=progress)
    raw = RawData(
        x=crops.x, labels=crops.labels, groups=crops.groups, hashes=np.zeros(0, np.uint64), label_names=label_names,
        group_names=group_names, source=source, rows=crops.rows, faces=crops.counts,
        names=unique(relative([items[int(r)].path for r in crops.rows], scan.root)),
    )
    return raw, crops.digests, [(str(items[i].path.relative_to(scan.root)), why) for i, why in crops.bad]
