"""Datasets of photos: the faces stage (:mod:`ferbench.faces`) in place of plain decoding.

A reader (class folders, AffectNet's official release, the released layouts of
:mod:`ferbench.data.layouts.photos`) hands over its files with
their labels and source splits; this returns the face crops with theirs, and counts
per source split and label how many images held one face, none, or several.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferbench.faces.detect import Face
from ferbench.spec.types import FacesSpec


@dataclass
class PhotoCrops:
    """The crops of a list of files, with the labels, source splits and source rows of each crop."""

    x: np.ndarray
    labels: np.ndarray  # int16, into the reader's label names
    groups: np.ndarray  # int16, into the reader's split names
    rows: np.ndarray  # int64: the file (index into the reader's list) each crop came from
    digests: list[str]  # per file
    bad: list[tuple[int, str]]  # (file index, why)
    counts: dict[str, dict[str, dict[str, int]]]
    faces: list[Face | None] = field(default_factory=list)  # per crop: the face it was cut around (None: the whole image)


def crop_photos(paths: Sequence[Path], labels: Sequence[int], groups: Sequence[int], label_names: Sequence[str],
                group_names: Sequence[str], spec: FacesSpec, size: int, color: str, *, cache_root: Path | None,
                given: Sequence[list[Face] | None] | None = None, progress: bool = True) -> PhotoCrops:
    """Run the faces stage over ``paths`` (labels and groups per path)."""
    from ferbench.faces.stage import crop_files

    crops = crop_files(paths, spec, size, color, cache_root=cache_root, given=given, progress=progress)
    lab, grp = np.asarray(labels, np.int16), np.asarray(groups, np.int16)
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for i, n in enumerate(crops.found):
        if n < 0:
            continue
        c = counts.setdefault(group_names[grp[i]], {}).setdefault(label_names[lab[i]], {"images": 0, "one": 0, "none": 0, "several": 0})
        c["images"] += 1
        c["one" if n == 1 else "none" if n == 0 else "several"] += 1
    return PhotoCrops(crops.x, lab[crops.source], grp[crops.source], crops.source, crops.digests, crops.bad, counts, crops.faces)
