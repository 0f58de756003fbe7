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
from dataclasses import dataclass

import numpy as np

from ferbench.data.classes import AFFECTNET_CLASSES, AFFECTNET_NOT_A_CLASS
from ferbench.data.core import RawData
from ferbench.data.images import Item, decode_many
from ferbench.data.probe import Release
from ferbench.errors import DataError

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
                out.codes.append(code)
                out.groups.append(g)
                out.where.append(where)
    return out


def _chain(first: list[str], rest):  # type: ignore[no-untyped-def]
    yield first
    yield from rest


def read_release(rel: Release, listed: Listed, size: int, color: str, *, progress: bool) -> tuple[RawData, list[str], list[tuple[str, str]]]:
    """Decode the listed faces (cropped to their box, resized)."""
    x, digests, bad = decode_many(listed.items, size, color, progress=progress, label="decoding AffectNet")
    ok = np.ones(len(listed.items), bool)
    ok[[i for i, _ in bad]] = False
    raw = RawData(
        x=x,
        labels=np.asarray(listed.codes, np.int16)[ok],
        groups=np.asarray(listed.groups, np.int16)[ok],
        hashes=np.zeros(0, np.uint64),
        label_names=tuple(str(i) for i in range(len(AFFECTNET_CLASSES))),
        group_names=tuple(rel.lists),
        source=f"AffectNet official release ({', '.join(p.name for p in rel.lists.values())} + {rel.images.name}/)",
        rows=np.flatnonzero(ok).astype(np.int64),
        dropped=dict(listed.dropped),
    )
    problems = [(f"{listed.where[i]} ({listed.items[i].path.relative_to(rel.root)})", why) for i, why in bad]
    return raw, digests, problems
