"""ExpW, the Expression in-the-Wild database (Zhang et al. 2018), as released.

``label/label.lst`` has one line per face: ``image_name face_id top left right
bottom confidence label``, labels 0-6 in FER2013's order (angry, disgust, fear,
happy, sad, surprise, neutral). An image may hold several faces; each is cropped by
its box from ``image/origin/<image_name>``. Boxes whose detector confidence is
below ``dataset.min_confidence`` are left out (and counted); an image whose every box
is below it is left out whole, counted on its own (in the data line and ``data
describe``) and named in a warning when it is a large share of the images. With
``dataset.faces`` each image goes through the faces stage once: ``boxes`` crops the
listed boxes, a detector re-detects and each face found takes the label of the listed
box it overlaps. The release has no splits: everything is one group, ``all``.
"""

from __future__ import annotations

from pathlib import Path

from ferbench.data import probe
from ferbench.data.images import Item
from ferbench.data.layouts.base import Face, Listing, partial_copy
from ferbench.spec.types import FER2013_CLASSES, DatasetSpec

#: Faces in the published label file.
OFFICIAL: dict[str, int] = {"faces": 91793}
#: The share of images with no box at ``dataset.min_confidence`` from which a warning names it.
WARN_SHARE = 0.1


def _face(parts: list[str], images: Path, where: str, min_confidence: float, out: Listing) -> Face | None:
    name, _, *box_text, conf_text, label_text = parts
    try:
        top, left, right, bottom = (int(float(v)) for v in box_text)
        confidence, label = float(conf_text), int(label_text)
    except ValueError:
        out.bad.append((where, "box, confidence or label is not a number"))
        return None
    if not 0 <= label < len(FER2013_CLASSES):
        out.bad.append((where, f"label {label} is not an ExpW label 0-6"))
        return None
    if right <= left or bottom <= top:
        out.bad.append((where, f"face box (top {top}, left {left}, right {right}, bottom {bottom}) has no area"))
        return None
    if confidence < min_confidence:
        out.drop(f"face box confidence below {min_confidence:g} (dataset.min_confidence)")
        return None
    return Face(Item(images / name, (left, top, right - left, bottom - top)), FER2013_CLASSES[label], "all", where)


def listing(root: Path, spec: DatasetSpec) -> Listing | None:
    """The faces of the ExpW release under ``root``, or ``None`` when there is none."""
    base = probe.expw_release(root)
    if base is None:
        return None
    labels = base / "label" / "label.lst"
    out = Listing(f"ExpW ({labels.name} + image/origin/)", base, [labels])
    lines = 0
    kept: dict[str, int] = {}  # image name -> boxes kept (0: every listed box was below min_confidence)
    for line, text in enumerate(labels.read_text().splitlines(), start=1):
        parts = text.split()
        if not parts:
            continue
        lines += 1
        where = f"{labels.name}:{line}"
        if len(parts) != 8:
            out.bad.append((where, f"has {len(parts)} fields, expected 8: image_name face_id top left right bottom confidence label"))
            continue
        dropped = sum(out.dropped.values())
        face = _face(parts, base / "image" / "origin", where, spec.min_confidence, out)
        if face is not None:
            out.faces.append(face)
            kept[parts[0]] = kept.get(parts[0], 0) + 1
        elif sum(out.dropped.values()) > dropped:  # below min_confidence (a malformed line says nothing of its image)
            kept.setdefault(parts[0], 0)
    _no_confident_box(out, kept, spec.min_confidence)
    if (warning := partial_copy("ExpW", {"faces": lines}, OFFICIAL)) is not None:
        out.warnings.append(warning)
    return out


def _no_confident_box(out: Listing, kept: dict[str, int], min_confidence: float) -> None:
    """Count the images whose every box is below ``min_confidence`` apart from the faces, and warn when they are many."""
    empty = sum(1 for n in kept.values() if n == 0)
    if not empty:
        return
    what = f"images whose every face box is below {min_confidence:g} (dataset.min_confidence)"
    out.drop(what, empty)
    out.title = out.title[:-1] + f"; {empty} image(s) left out: no face box at min_confidence {min_confidence:g})"
    if empty >= WARN_SHARE * len(kept):
        out.warnings.append(f"ExpW: {empty} of {len(kept)} images ({empty / len(kept):.0%}) have no face box with confidence "
                            f">= {min_confidence:g} (dataset.min_confidence) and are left out whole; lower dataset.min_confidence to keep them")
