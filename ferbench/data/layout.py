"""Find the layout under ``dataset.path`` and say which one it is.

``dataset.path`` may name a file (a FER2013 CSV) or a dataset folder; inside a
folder ferbench tries the kind's layouts in the order of its row in
:mod:`ferbench.data.kinds` (FER2013: the Kaggle CSV ``fer2013.csv``, ``.csv.gz`` or
``.zip``, then class folders; AffectNet: the official release, then class folders),
with the same cheap looks (:mod:`ferbench.data.probe`) the spec defaults use.
Class folders are ``train/<class>/``, ``test/<class>/``, or ``<class>/`` directly.
``dataset.layout`` forces one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

from ferbench.data import folders, probe
from ferbench.data.affectnet import listed_paths, partial_copy, read_lists, read_release
from ferbench.data.cache import cache_root, sha256_hex
from ferbench.data.core import RawData, Reader, Source
from ferbench.data.fer2013_csv import read_fer2013_csv
from ferbench.data.kinds import KINDS
from ferbench.data.layouts import LISTERS
from ferbench.data.layouts.base import Listing, read_listing
from ferbench.data.probe import Release
from ferbench.errors import DataError
from ferbench.spec.types import DatasetSpec

#: Which layouts each kind that reads files may have (first = preferred when several are present).
LAYOUTS: dict[str, tuple[str, ...]] = {k.name: k.layout_names for k in KINDS.values() if k.needs_path}


def detect(spec: DatasetSpec) -> Source:
    """The :class:`~ferbench.data.core.Source` for a spec's dataset (nothing is decoded yet)."""
    if not spec.path:
        raise DataError(f"dataset.path is not set; point it at the {spec.kind} dataset file or folder")
    path = probe.expand(spec.path)
    if not path.exists():
        raise DataError(
            f"{path}: not found; set dataset.path to the dataset file or folder "
            "(the example specs read ${FERBENCH_DATA}/<dataset>, so set FERBENCH_DATA to your datasets folder)"
        )
    kind = KINDS[spec.kind]
    allowed = LAYOUTS[spec.kind]
    if spec.layout != "auto" and spec.layout not in allowed:
        raise DataError(f"dataset.layout: {spec.layout} is not a layout of {spec.kind}; use one of auto, {', '.join(allowed)}")
    wanted = allowed if spec.layout == "auto" else (spec.layout,)
    tried: list[str] = []
    for name in wanted:
        layout = kind.layout(name)
        assert layout is not None  # wanted is a subset of the kind's layouts
        if layout.lister is not None:
            release = LISTERS[layout.lister](path, spec)
            if release is not None:
                return _listing_source(release, spec)
        elif name == "csv":
            f = probe.fer2013_csv(path)
            if f is not None:
                return Source("csv", f.parent, [f], _csv_reader(f), [])
        elif name == "official":
            rel = probe.affectnet_release(path)
            if rel is not None:  # the lists are parsed in full only when the images are decoded
                files = [*map(str, rel.lists.values()), *listed_paths(rel)]
                return Source("official", rel.root, files, _official_reader(rel, spec), [])
        elif name == "folders" and probe.class_folders(path):
            try:
                scan = folders.scan_folders(path)
            except DataError as exc:
                if spec.layout == "folders" or len(wanted) == 1:
                    raise
                tried.append(f"class folders ({exc})")
                continue
            return _folder_source(layout.title, spec, scan)
        tried.append(layout.looks_for)
    raise DataError(f"{path}: no {spec.kind} dataset found; looked for {'; '.join(tried)}")


def _csv_reader(f: Path) -> Reader:
    def read(progress: bool) -> tuple[RawData, str, list[tuple[str, str]]]:
        raw, digest, bad = read_fer2013_csv(f)
        return raw, digest, [(f"{f.name}:{line}", why) for line, why in bad]

    return read


def _official_reader(rel: Release, spec: DatasetSpec) -> Reader:
    def read(progress: bool) -> tuple[RawData, str, list[tuple[str, str]]]:
        listed = read_lists(rel)
        raw, digests, bad = read_release(rel, listed, spec.image_size, spec.color, progress=progress, faces=spec.faces,
                                         cache_root=cache_root(spec.cache) if spec.faces else None)
        lists = [hashlib.sha256(p.read_bytes()).hexdigest() for p in rel.lists.values()]
        raw = replace(raw, warnings=(*raw.warnings, *partial_copy(rel, listed)))
        return raw, sha256_hex(lists, digests), listed.bad + bad

    return read


def _listing_source(listed: Listing, spec: DatasetSpec) -> Source:
    files = listed.files + [f.item.path for f in listed.faces] + listed.watched
    size, color, faces_spec = spec.image_size, spec.color, spec.faces

    def read(progress: bool) -> tuple[RawData, str, list[tuple[str, str]]]:
        if faces_spec is not None:  # the photos through the faces stage, each image once
            from ferbench.data.layouts.photos import read_photos

            raw, digests, bad = read_photos(listed, faces_spec, size, color, cache_root=cache_root(spec.cache), progress=progress)
        else:
            raw, digests, bad = read_listing(listed, size, color, progress=progress)
        # What was listed (boxes, labels, subjects) is part of the content: the same
        # images under another dataset.min_confidence are another dataset.
        faces = [(str(f.item.path.relative_to(listed.root)), f.item.box, f.label, f.group, f.subject, sorted(f.attributes.items()))
                 + ((f.eyes,) if f.eyes is not None else ()) for f in listed.faces]
        labels = [hashlib.sha256(p.read_bytes()).hexdigest() for p in listed.files]
        return raw, sha256_hex(labels, faces, digests), listed.bad + bad

    return Source("official", listed.root, files, read, list(listed.warnings))


def _folder_source(title: str, spec: DatasetSpec, scan: folders.FolderScan) -> Source:
    splits = ", ".join(f"{s}/ ({len(c)} classes)" for s, c in scan.splits.items()) if not scan.flat else f"{len(scan.splits['all'])} classes"
    source = f"{title} ({scan.root.name}: {splits})"
    warnings: list[str] = []
    if scan.ignored:
        warnings.append(f"ignored {scan.ignored} non-image file(s) in the class folders")
    if scan.odd:
        shown = ", ".join(f"{os.path.relpath(p, scan.root)} ({why})" for p, why in scan.odd[:3])
        more = " ..." if len(scan.odd) > 3 else ""
        warnings.append(
            f"ignored {len(scan.odd)} entr{'y' if len(scan.odd) == 1 else 'ies'} of the class folders that are not files: "
            f"{shown}{more}; fix the links or remove them"
        )
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
        raw, digests, bad = folders.read_folders(scan, size, color, source, progress=progress, faces=spec.faces,
                                                 cache_root=cache_root(spec.cache) if spec.faces else None)
        rel = [os.path.relpath(f, scan.root) for f in files]
        return raw, sha256_hex(sorted(zip(rel, digests, strict=True))), bad

    return Source("folders", scan.root, files, read, warnings)
