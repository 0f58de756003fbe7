"""A release's photos through the faces stage (``dataset.faces``): ExpW's ``image/origin/``, RAF-DB's ``original/``.

Each image file goes through :func:`ferbench.data.photos.crop_photos` once, with the
faces its label file lists as the given boxes (``detector: boxes``; RAF-DB adds the eyes
of its manual landmarks for ``align: eyes``). A crop takes the label, split, subject
and attributes of the listed face whose box it overlaps most (IoU at least
:data:`MATCH_IOU`); a face the detector finds that overlaps no listed box has no label
and is left out, counted. Where a release lists one face per image without a box
(CK+, JAFFE, KDEF frames, RAF-DB without its bounding-box files) every face found takes
that face's label, as in class folders. The faces table of ``data describe`` counts an
image under its split and the label of its first listed face.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ferbench.data.core import RawData
from ferbench.data.layouts.base import Listing
from ferbench.data.names import relative, unique
from ferbench.faces.detect import Face, iou
from ferbench.spec.types import FacesSpec

#: The overlap a found face needs with a listed box to take its label (detectors draw boxes a little
#: differently from the annotators: 0.4 keeps the same face and never joins two side by side).
MATCH_IOU = 0.4
#: What an unlabelled face is counted as in ``excluded``.
UNMATCHED = f"faces found that overlap no listed face box (IoU < {MATCH_IOU:g})"


def _given(listing: Listing, listed: list[int]) -> list[Face]:
    """The listed faces of one image that have a box, as the faces stage's given faces."""
    out = []
    for i in listed:
        f = listing.faces[i]
        if f.item.box is not None:
            out.append(Face(tuple(float(v) for v in f.item.box), 1.0, f.eyes))  # type: ignore[arg-type]
    return out


def _owner(listing: Listing, listed: list[int], face: Face | None) -> int:
    """The listed face (index into ``listing.faces``) a crop belongs to, or -1 when none."""
    boxed = [i for i in listed if listing.faces[i].item.box is not None]
    if not boxed:  # one unboxed face per image: whatever is found is that face
        return listed[0] if len(listed) == 1 else -1
    if face is None:  # the whole image (on_none: whole): only when it holds one listed face
        return listed[0] if len(listed) == 1 else -1
    best = max(boxed, key=lambda i: iou(face.box, listing.faces[i].item.box))  # type: ignore[arg-type]
    return best if iou(face.box, listing.faces[best].item.box) >= MATCH_IOU else -1  # type: ignore[arg-type]


def read_photos(listing: Listing, spec: FacesSpec, size: int, color: str, *, cache_root: Path | None,
                progress: bool) -> tuple[RawData, list[str], list[tuple[str, str]]]:
    """Run the faces stage over the listed images; returns the crops as :class:`RawData`, the files' digests and the bad files."""
    from ferbench.data.photos import crop_photos

    faces = listing.faces
    files: dict[Path, list[int]] = {}
    for i, f in enumerate(faces):
        files.setdefault(f.item.path, []).append(i)
    listed = list(files.values())
    label_names = tuple(sorted({f.label for f in faces}))
    group_names = tuple(dict.fromkeys(f.group for f in faces))
    first = [faces[idx[0]] for idx in listed]
    crops = crop_photos(list(files), [label_names.index(f.label) for f in first], [group_names.index(f.group) for f in first],
                        label_names, group_names, spec, size, color, cache_root=cache_root,
                        given=[_given(listing, idx) for idx in listed], progress=progress)
    owner = np.asarray([_owner(listing, listed[int(r)], face) for r, face in zip(crops.rows, crops.faces, strict=True)], np.int64)
    keep = owner >= 0
    owner = owner[keep]
    dropped = dict(listing.dropped)
    if (~keep).any():
        dropped[UNMATCHED] = int((~keep).sum())
    keys = sorted({k for f in faces for k in f.attributes})
    raw = RawData(
        x=crops.x[keep],
        labels=np.asarray([label_names.index(faces[j].label) for j in owner], np.int16),
        groups=np.asarray([group_names.index(faces[j].group) for j in owner], np.int16),
        hashes=np.zeros(0, np.uint64),
        label_names=label_names,
        group_names=group_names,
        source=listing.title,
        rows=owner,
        dropped=dropped,
        total=len(faces),
        subjects=np.asarray([faces[j].subject for j in owner], str) if listing.has_subjects else np.zeros(0, str),
        attributes={k: np.asarray([faces[j].attributes.get(k, "") for j in owner], str) for k in keys},
        faces=crops.counts,
        names=unique([faces[j].name or relative([faces[j].item.path], listing.root)[0] for j in owner.tolist()]),
    )
    bad = [(f"{faces[listed[i][0]].where} ({first[i].item.path.relative_to(listing.root)})", why) for i, why in crops.bad]
    return raw, crops.digests, bad
