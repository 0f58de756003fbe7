"""AffectNet as officially released: ``Manually_Annotated_Images/`` plus the
``training.csv`` / ``validation.csv`` file lists.

Each row names an image, its face box and an ``expression`` code: 0 neutral,
1 happy, 2 sad, 3 surprise, 4 fear, 5 disgust, 6 anger, 7 contempt, 8 none,
9 uncertain, 10 non-face. Codes 8-10 are not expressions and are never decoded;
contempt is decoded and left out later when the spec asks for 7 classes. The
validation list (500 per class) is the test set by convention.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferbench.data.classes import AFFECTNET_CLASSES, AFFECTNET_NOT_A_CLASS
from ferbench.data.core import RawData
from ferbench.data.images import Item, decode_many
from ferbench.data.names import relative, unique
from ferbench.data.probe import Release
from ferbench.errors import DataError
from ferbench.spec.types import FacesSpec

COLUMNS = (
    "subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
    "facial_landmarks", "expression", "valence", "arousal",
)


@dataclass
class Listed:
    """The rows of the list files worth decoding, and what was dropped or bad."""

    items: list[Item]
    codes: list[int]
    groups: list[int]
    where: list[str]  # "training.csv:12" per item, for error messages
    dropped: dict[str, int]
    bad: list[tuple[str, str]]
    #: Per item: the eye centres from its 68 facial landmarks (image-left eye first), or None.
    eyes: list[tuple[tuple[float, float], tuple[float, float]] | None] = field(default_factory=list)


def eyes_of(landmarks: str) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The eye centres from AffectNet's ``facial_landmarks`` (68 points as ``x;y;x;y...``): points 37-42 and 43-48."""
    try:
        v = [float(t) for t in landmarks.replace(",", ";").split(";") if t.strip()]
    except ValueError:
        return None
    if len(v) != 136:
        return None
    pts = np.asarray(v).reshape(68, 2)
    a, b = pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)
    return ((float(a[0]), float(a[1])), (float(b[0]), float(b[1])))


def read_lists(rel: Release) -> Listed:
    """Parse the list files (no image is opened)."""
    out = Listed([], [], [], [], {}, [])
    for g, csv_path in enumerate(rel.lists.values()):
        with open(csv_path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            first = next(reader, None)
            if first is None:
                raise DataError(f"{csv_path}: the file is empty; expected AffectNet columns {','.join(COLUMNS)}")
            if first[0].strip() == COLUMNS[0]:
                names = [c.strip() for c in first]
                missing = [c for c in COLUMNS if c not in names and c not in ("facial_landmarks", "valence", "arousal")]
                if missing:
                    raise DataError(f"{csv_path}:1: missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
                col = {c: names.index(c) for c in COLUMNS if c in names}
                line0, rows = 2, reader
            elif len(first) == len(COLUMNS):  # some copies of validation.csv lack the header
                col = {c: i for i, c in enumerate(COLUMNS)}
                line0, rows = 1, _chain(first, reader)
            else:
                raise DataError(
                    f"{csv_path}:1: not an AffectNet list (found {len(first)} columns: {first[:4]}...); "
                    f"expected {','.join(COLUMNS)}"
                )
            width = max(col.values()) + 1
            for line, row in enumerate(rows, start=line0):
                where = f"{csv_path.name}:{line}"
                if not row:
                    continue
                if len(row) < width:
                    out.bad.append((where, f"has {len(row)} fields, expected {len(COLUMNS)}"))
                    continue
                try:
                    code = int(row[col["expression"]])
                    box = tuple(int(float(row[col[c]])) for c in ("face_x", "face_y", "face_width", "face_height"))
                except ValueError:
                    out.bad.append((where, "expression or face box is not a number"))
                    continue
                if code in AFFECTNET_NOT_A_CLASS:
                    key = f"{code} {AFFECTNET_NOT_A_CLASS[code]}"
                    out.dropped[key] = out.dropped.get(key, 0) + 1
                    continue
                if not 0 <= code < len(AFFECTNET_CLASSES):
                    out.bad.append((where, f"expression {code} is not an AffectNet code 0..10"))
                    continue
                if box[2] <= 0 or box[3] <= 0:
                    out.bad.append((where, f"face box {box} has no area"))
                    continue
                out.items.append(Item(rel.images / row[col["subDirectory_filePath"]].strip(), box))  # type: ignore[arg-type]
                out.eyes.append(eyes_of(row[col["facial_landmarks"]]) if "facial_landmarks" in col else None)
                out.codes.append(code)
                out.groups.append(g)
                out.where.append(where)
    return out


def listed_paths(rel: Release) -> list[str]:
    """Every image path the list files name, in their order: the first column only, for the
    cache's stat key (a cached load parses no box, code or landmark)."""
    out: list[str] = []
    base = os.path.join(str(rel.images), "")
    for csv_path in rel.lists.values():
        with open(csv_path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            first = next(reader, None)
            if first is None:
                continue  # read_lists says so when the files are decoded
            head = [c.strip() for c in first]
            if COLUMNS[0] in head:
                col = head.index(COLUMNS[0])
            else:  # a list without its header: the first row is an image
                col = 0
                out.append(base + head[0])
            out.extend(base + row[col].strip() for row in reader if len(row) > col)
    return out


#: Faces per expression code in the published validation list (the test set).
OFFICIAL_VALIDATION = 500


def partial_copy(rel: Release, listed: Listed) -> list[str]:
    """A warning when the validation list does not hold 500 faces of each code 0-7, as published."""
    if "validation" not in rel.lists:
        return []
    g = list(rel.lists).index("validation")
    counts = [sum(1 for c, grp in zip(listed.codes, listed.groups, strict=True) if grp == g and c == code) for code in range(len(AFFECTNET_CLASSES))]
    if all(n == OFFICIAL_VALIDATION for n in counts):
        return []
    found = ", ".join(f"{AFFECTNET_CLASSES[i]} {n}" for i, n in enumerate(counts))
    return [f"AffectNet validation.csv lists {found}; the official release has {OFFICIAL_VALIDATION} per class: "
            "this is a partial or modified copy, not the benchmark as published"]


def _chain(first: list[str], rest):  # type: ignore[no-untyped-def]
    yield first
    yield from rest


def read_release(rel: Release, listed: Listed, size: int, color: str, *, progress: bool, faces: FacesSpec | None = None,
                 cache_root: Path | None = None) -> tuple[RawData, list[str], list[tuple[str, str]]]:
    """Decode the listed faces (cropped to their box, resized), or with ``faces`` run the faces stage on the whole images."""
    label_names = tuple(str(i) for i in range(len(AFFECTNET_CLASSES)))
    source = f"AffectNet official release ({', '.join(p.name for p in rel.lists.values())} + {rel.images.name}/)"
    counts: dict[str, dict[str, dict[str, int]]] = {}
    if faces is not None:
        from ferbench.data.photos import crop_photos
        from ferbench.faces.detect import Face

        given: list[list[Face] | None] = [
            [Face((float(i.box[0]), float(i.box[1]), float(i.box[2]), float(i.box[3])), 1.0, e)] if i.box else []
            for i, e in zip(listed.items, listed.eyes)
        ]
        crops = crop_photos([i.path for i in listed.items], listed.codes, listed.groups, label_names, tuple(rel.lists), faces, size, color,
                            cache_root=cache_root, given=given, progress=progress)
        x, labels, groups, rows, digests, bad, counts = crops.x, crops.labels, crops.groups, crops.rows, crops.digests, crops.bad, crops.counts
    else:
        x, digests, bad = decode_many(listed.items, size, color, progress=progress, label="decoding AffectNet")
        ok = np.ones(len(listed.items), bool)
        ok[[i for i, _ in bad]] = False
        labels, groups = np.asarray(listed.codes, np.int16)[ok], np.asarray(listed.groups, np.int16)[ok]
        rows = np.flatnonzero(ok).astype(np.int64)
    raw = RawData(
        x=x, labels=labels, groups=groups, hashes=np.zeros(0, np.uint64), label_names=label_names, group_names=tuple(rel.lists),
        source=source, rows=rows, dropped=dict(listed.dropped), faces=counts,
        names=unique(relative([listed.items[i].path for i in rows.tolist()], rel.images)),
    )
    problems = [(f"{listed.where[i]} ({listed.items[i].path.relative_to(rel.root)})", why) for i, why in bad]
    return raw, digests, problems
