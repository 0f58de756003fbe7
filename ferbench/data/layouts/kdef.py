"""KDEF, the Karolinska Directed Emotional Faces (Lundqvist et al. 1998), as released.

Folders ``AF01/`` of files ``AF01ANS.JPG``: session (A, B), sex (F, M), subject
number, expression (AF afraid, AN angry, DI disgusted, HA happy, NE neutral, SA sad,
SU surprised) and angle (FL full left, HL half left, S straight, HR half right, FR
full right). Straight faces are read; the other angles are left out and counted.
The subject is sex and number (``F01``), the same person in both sessions.
"""

from __future__ import annotations

from pathlib import Path

from ferbench.data import probe
from ferbench.data.images import Item
from ferbench.data.layouts.base import Face, Listing, partial_copy
from ferbench.spec.types import DatasetSpec

#: KDEF's expression codes.
CODES: dict[str, str] = {"AF": "fear", "AN": "angry", "DI": "disgust", "HA": "happy", "NE": "neutral", "SA": "sad", "SU": "surprise"}
#: Straight faces in the published release: 70 people, 7 expressions, 2 sessions.
OFFICIAL: dict[str, int] = {"straight faces": 980}


def listing(root: Path, spec: DatasetSpec) -> Listing | None:
    """The straight faces of the KDEF release under ``root``, or ``None`` when there is none."""
    base = probe.kdef_release(root)
    if base is None:
        return None
    out = Listing("KDEF (AF01/AF01ANS.JPG folders, straight faces)", base, [], has_subjects=True)
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        for f in sorted(folder.iterdir()):
            m = probe.KDEF_NAME.match(f.name)
            if m is None:
                continue
            _, sex, number, code, angle = (g.upper() for g in m.groups())
            if angle != "S":
                out.drop(f"angle {angle} (not straight)")
                continue
            out.faces.append(Face(Item(f), CODES[code], "all", f"{folder.name}/{f.name}", subject=f"{sex}{number}"))
    if (warning := partial_copy("KDEF", {"straight faces": len(out.faces)}, OFFICIAL)) is not None:
        out.warnings.append(warning)
    return out
