"""Find the layout under ``dataset.path`` and say which one it is.

``dataset.path`` may name a file (a FER2013 CSV) or a dataset folder; inside a
folder ferbench looks for, in order: a FER2013 CSV (``fer2013.csv``, ``.csv.gz`` or
``.zip``), the official AffectNet release, class folders (``train/<class>/``,
``test/<class>/``, or ``<class>/`` directly). ``dataset.layout`` forces one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ferbench.data import folders
from ferbench.data.affectnet import Listed, Release, find_release, read_lists, read_release
from ferbench.data.cache import sha256_hex
from ferbench.data.core import RawData, Reader, Source
from ferbench.data.fer2013_csv import read_fer2013_csv
from ferbench.errors import DataError
from ferbench.spec.types import DatasetSpec

CSV_NAMES = ("fer2013.csv", "fer2013.csv.gz", "fer2013.zip", "fer2013.csv.zip", "icml_face_data.csv")
#: Which layouts each kind may have (first = preferred when several are present).
LAYOUTS = {"fer2013": ("csv", "folders"), "affectnet": ("official", "folders"), "folder": ("folders",)}


def _csv_file(path: Path) -> Path | None:
    if path.is_file():
        return path
    return next((path / n for n in CSV_NAMES if (path / n).is_file()), None)


def detect(spec: DatasetSpec) -> Source:
    """The :class:`~ferbench.data.core.Source` for a spec's dataset (nothing is decoded yet)."""
    if not spec.path:
        raise DataError(f"dataset.path is not set; point it at the {spec.kind} dataset file or folder")
    path = Path(os.path.expandvars(os.path.expanduser(spec.path)))
    if not path.exists():
        raise DataError(
            f"{path}: not found; set dataset.path to the dataset file or folder "
            "(the example specs read ${FERBENCH_DATA}/<dataset>, so set FERBENCH_DATA to your datasets folder)"
        )
    allowed = LAYOUTS[spec.kind]
    if spec.layout != "auto" and spec.layout not in allowed:
        raise DataError(f"dataset.layout: {spec.layout} is not a layout of {spec.kind}; use one of auto, {', '.join(allowed)}")
    wanted = allowed if spec.layout == "auto" else (spec.layout,)
    size, color = spec.image_size, spec.color
    tried: list[str] = []
    for layout in wanted:
        if layout == "csv":
            f = _csv_file(path)
            if f is not None:
                return Source("csv", f.parent, [f], _csv_reader(f), [])
            tried.append(f"a FER2013 CSV ({', '.join(CSV_NAMES[:3])})")
        elif layout == "official":
            rel = find_release(path) if path.is_dir() else None
            if rel is not None:
                listed = read_lists(rel)
                files = list(rel.lists.values()) + [i.path for i in listed.items]
                return Source("official", rel.root, files, _official_reader(rel, listed, size, color), [])
            tried.append("the AffectNet release (Manually_Annotated_Images/ with training.csv, validation.csv)")
        else:
            if path.is_dir():
                try:
                    scan = folders.scan_folders(path)
                except DataError as exc:
                    if spec.layout == "folders" or len(wanted) == 1:
                        raise
                    tried.append(f"class folders ({exc})")
                    continue
                return _folder_source(spec, scan)
            tried.append("class folders (train/<class>/*.jpg)")
    raise DataError(f"{path}: no {spec.kind} dataset found; looked for {'; '.join(tried)}")


def _csv_reader(f: Path) -> Reader:
    def read(progress: bool) -> tuple[RawData, str, list[tuple[str, str]]]:
        raw, digest, bad = read_fer2013_csv(f)
        return raw, digest, [(f"{f.name}:{line}", why) for line, why in bad]

    return read


def _official_reader(rel: Release, listed: Listed, size: int, color: str) -> Reader:
    def read(progress: bool) -> tuple[RawData, str, list[tuple[str, str]]]:
        raw, digests, bad = read_release(rel, listed, size, color, progress=progress)
        lists = [hashlib.sha256(p.read_bytes()).hexdigest() for p in rel.lists.values()]
        return raw, sha256_hex(lists, digests), listed.bad + bad

    return read


def _folder_source(spec: DatasetSpec, scan: folders.FolderScan) -> Source:
    names = {"fer2013": "FER2013 class folders", "affectnet": "AffectNet class folders", "folder": "image class folders"}
    splits = ", ".join(f"{s}/ ({len(c)} classes)" for s, c in scan.splits.items()) if not scan.flat else f"{len(scan.splits['all'])} classes"
    source = f"{names[spec.kind]} ({scan.root.name}: {splits})"
    warnings: list[str] = []
    if scan.ignored:
        warnings.append(f"ignored {scan.ignored} non-image file(s) in the class folders")
    if scan.empty:
        listed = ", ".join(str(p.relative_to(scan.root)) for p in scan.empty[:5])
        if spec.on_bad_sample == "error":
            raise DataError(
                f"{scan.root}: empty class folder(s) {listed}; add images, remove the folder(s), "
                "or set dataset.on_bad_sample: skip"
            )
        warnings.append(f"empty class folder(s) skipped: {listed}")
    files = scan.files
    size, color = spec.image_size, spec.color

    def read(progress: bool) -> tuple[RawData, str, list[tuple[str, str]]]:
        raw, digests, bad = folders.read_folders(scan, size, color, source, progress=progress)
        rel = [os.path.relpath(f, scan.root) for f in files]
        return raw, sha256_hex(sorted(zip(rel, digests, strict=True))), bad

    return Source("folders", scan.root, files, read, warnings)
