"""CK+, the Extended Cohn-Kanade dataset (Lucey et al. 2010), as released.

``cohn-kanade-images/S005/001/S005_001_00000011.png`` are the frames of a posed
sequence, from neutral to the peak; ``Emotion/S005/001/S005_001_00000011_emotion.txt``
holds its label (``3.0000000e+00``; 0 neutral, 1 anger, 2 contempt, 3 disgust, 4
fear, 5 happy, 6 sadness, 7 surprise) for the 327 sequences that have one. The usual
protocol: the last three frames of each labelled sequence, and, with
``dataset.ckplus.neutral_first_frame``, its first frame as neutral. Sequences
without an emotion file are left out and counted. Every face keeps its subject
(``S005``) for subject-independent folds.
"""

from __future__ import annotations

from pathlib import Path

from ferbench.data import probe
from ferbench.data.images import IMAGE_EXTENSIONS, Item
from ferbench.data.layouts.base import Face, Listing, partial_copy
from ferbench.spec.types import DatasetSpec

#: CK+ emotion codes 0..7 (0 neutral is never a sequence's label; the first frame gives it).
CODES: tuple[str, ...] = ("neutral", "angry", "contempt", "disgust", "fear", "happy", "sad", "surprise")
#: Labelled sequences in the published release.
OFFICIAL: dict[str, int] = {"labelled sequences": 327}
#: Frames of each labelled sequence taken with its label.
PEAK_FRAMES = 3


def _label(path: Path, where: str, out: Listing) -> str | None:
    try:
        value = float(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        out.bad.append((where, "not an emotion file (expected one number such as 3.0000000e+00)"))
        return None
    if value != int(value) or not 1 <= int(value) < len(CODES):
        out.bad.append((where, f"emotion {value:g} is not a CK+ code 1-7"))
        return None
    return CODES[int(value)]


def _sequence(seq: Path, emotion: Path, neutral_first: bool, out: Listing) -> int:
    """Adds the faces of one sequence; returns 1 when it is labelled."""
    subject = seq.parent.name
    where = str(seq.relative_to(out.root))
    labels = sorted(emotion.glob("*_emotion.txt")) if emotion.is_dir() else []
    if not labels:
        out.drop("sequences without an emotion file")
        return 0
    label = _label(labels[-1], str(labels[-1].relative_to(out.root)), out)
    frames = sorted(p for p in seq.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))
    if label is None or not frames:
        return 0
    for f in frames[-PEAK_FRAMES:]:
        out.faces.append(Face(Item(f), label, "all", f"{where}/{f.name}", subject=subject))
    if neutral_first and len(frames) > PEAK_FRAMES:
        out.faces.append(Face(Item(frames[0]), "neutral", "all", f"{where}/{frames[0].name}", subject=subject))
    return 1


def listing(root: Path, spec: DatasetSpec) -> Listing | None:
    """The faces of the CK+ release under ``root``, or ``None`` when there is none."""
    base = probe.ckplus_release(root)
    if base is None:
        return None
    images = base / "cohn-kanade-images"
    out = Listing("CK+ (cohn-kanade-images/ + Emotion/)", base, [], has_subjects=True)
    labelled = 0
    for subject in sorted(p for p in images.iterdir() if p.is_dir()):
        for seq in sorted(p for p in subject.iterdir() if p.is_dir()):
            labelled += _sequence(seq, base / "Emotion" / subject.name / seq.name, spec.ckplus_neutral_first_frame, out)
    out.files = sorted((base / "Emotion").rglob("*_emotion.txt"))
    if (warning := partial_copy("CK+", {"labelled sequences": labelled}, OFFICIAL)) is not None:
        out.warnings.append(warning)
    return out
