"""JAFFE, the Japanese Female Facial Expression database (Lyons et al. 1998), as released.

One folder of ``KA.AN1.39.tiff`` files: the subject's initials, the expression
(AN anger, DI disgust, FE fear, HA happiness, NE neutral, SA sadness, SU surprise)
with its take, and the picture number. 213 images of 10 subjects. Every face keeps
its subject for subject-independent folds; the release has no splits (one group,
``all``).
"""

from __future__ import annotations

from pathlib import Path

from ferbench.data import probe
from ferbench.data.images import Item
from ferbench.data.layouts.base import Face, Listing, partial_copy
from ferbench.spec.types import DatasetSpec

#: JAFFE's expression codes.
CODES: dict[str, str] = {"AN": "angry", "DI": "disgust", "FE": "fear", "HA": "happy", "NE": "neutral", "SA": "sad", "SU": "surprise"}
#: Images in the published release.
OFFICIAL: dict[str, int] = {"images": 213}


def listing(root: Path, spec: DatasetSpec) -> Listing | None:
    """The faces of the JAFFE release under ``root``, or ``None`` when there is none."""
    base = probe.jaffe_release(root)
    if base is None:
        return None
    out = Listing("JAFFE (KA.AN1.39.tiff files)", base, [], has_subjects=True)
    for f in sorted(base.iterdir()):
        m = probe.JAFFE_NAME.match(f.name)
        if m is None:
            continue
        code = m.group(2).upper()
        if code not in CODES:
            out.bad.append((f.name, f"expression {code} is not a JAFFE code ({', '.join(CODES)})"))
            continue
        out.faces.append(Face(Item(f), CODES[code], "all", f.name, subject=m.group(1).upper()))
    if (warning := partial_copy("JAFFE", {"images": len(out.faces)}, OFFICIAL)) is not None:
        out.warnings.append(warning)
    return out
