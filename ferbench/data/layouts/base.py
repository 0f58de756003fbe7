"""What every released-layout module produces: a :class:`Listing` of faces to decode.

A layout module reads the label files of one release (no image is opened) and
lists each face with its source label name, its split, its subject (where the
release names one) and its attributes (RAF-DB's gender, race and age group);
:func:`read_listing` decodes them into :class:`~ferbench.data.core.RawData`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferbench.data.core import RawData
from ferbench.data.images import Item, decode_many
from ferbench.data.names import relative, unique


@dataclass
class Face:
    """One face to decode: the file (and box), its label and split, who it is."""

    item: Item
    label: str  # the source's class name (in the class vocabulary or a synonym)
    group: str  # the release's split: "train", "test", "all"
    where: str  # "list_patition_label.txt:12" or the file's relative path, for messages
    subject: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    #: The eye centres as seen (left, right) in the image's pixels, where the release gives them (RAF-DB's landmarks).
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None
    name: str = ""  # how the release names the face (RAF-DB: "test_0001.jpg"); "": its path below the release's folder


@dataclass
class Listing:
    """The faces of a release worth decoding, and what was left out and why."""

    title: str  # "RAF-DB basic (list_patition_label.txt + aligned/)"
    root: Path
    files: list[Path]  # label files (the cache key watches them and the images)
    faces: list[Face] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> faces (or images, as it says) left out on purpose
    bad: list[tuple[str, str]] = field(default_factory=list)  # (where, why): malformed entries
    warnings: list[str] = field(default_factory=list)
    has_subjects: bool = False
    #: Annotation files besides the label files (RAF-DB's attributes and boxes): the cache's cheap
    #: look watches them, so an edited one is read again (their content is in the listed faces).
    watched: list[Path] = field(default_factory=list)

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n


def partial_copy(name: str, found: dict[str, int], official: dict[str, int]) -> str | None:
    """A warning when a release's counts differ from the documented ones, or ``None``."""
    if all(found.get(k, 0) == v for k, v in official.items()):
        return None
    have = " / ".join(f"{found.get(k, 0):,} {k}" for k in official)
    want = " / ".join(f"{v:,} {k}" for k, v in official.items())
    return f"{name}: found {have}, the official release has {want}; this is a partial or modified copy, not the benchmark as published"


def read_listing(listing: Listing, size: int, color: str, *, progress: bool) -> tuple[RawData, list[str], list[tuple[str, str]]]:
    """Decode the listed faces (cropped to their box, resized); unreadable ones are returned as bad."""
    faces = listing.faces
    x, digests, bad = decode_many([f.item for f in faces], size, color, progress=progress, label=f"decoding {listing.root.name}")
    ok = np.ones(len(faces), bool)
    ok[[i for i, _ in bad]] = False
    label_names = tuple(sorted({f.label for f in faces}))
    group_names = tuple(dict.fromkeys(f.group for f in faces))
    keys = sorted({k for f in faces for k in f.attributes})
    raw = RawData(
        x=x,
        labels=np.asarray([label_names.index(f.label) for f in faces], np.int16)[ok],
        groups=np.asarray([group_names.index(f.group) for f in faces], np.int16)[ok],
        hashes=np.zeros(0, np.uint64),
        label_names=label_names,
        group_names=group_names,
        source=listing.title,
        rows=np.flatnonzero(ok).astype(np.int64),
        dropped=dict(listing.dropped),
        total=len(faces),
        subjects=np.asarray([f.subject for f in faces], str)[ok] if listing.has_subjects else np.zeros(0, str),
        attributes={k: np.asarray([f.attributes.get(k, "") for f in faces], str)[ok] for k in keys},
        names=unique([f.name or relative([f.item.path], listing.root)[0] for f in faces])[ok],
    )
    return raw, digests, [(faces[i].where, why) for i, why in bad]
