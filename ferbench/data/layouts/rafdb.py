"""RAF-DB basic as released (Li, Deng and Du 2017).

``basic/EmoLabel/list_patition_label.txt`` (sic) lists ``train_00001.jpg 5``: the
split is the name's prefix and labels 1-7 are surprise, fear, disgust, happiness,
sadness, anger, neutral (not FER2013's order: they are mapped by name). Faces come
from ``basic/Image/aligned/train_00001_aligned.jpg`` (100x100) when present, else
``basic/Image/original/train_00001.jpg``. ``basic/Annotation/manual/
train_00001_manu_attri.txt`` holds five landmarks, then gender, race and age group;
they are kept with each face.
"""

from __future__ import annotations

from pathlib import Path

from ferbench.data import probe
from ferbench.data.images import Item
from ferbench.data.kinds import RAFDB_CLASSES
from ferbench.data.layouts.base import Face, Listing, partial_copy
from ferbench.spec.types import DatasetSpec

#: RAF-DB's labels 1..7, by name (the kinds table's, shared with the folder copies).
CLASSES: tuple[str, ...] = RAFDB_CLASSES
#: Images per split in the published release.
OFFICIAL: dict[str, int] = {"train": 12271, "test": 3068}
#: The attribute lines after the five landmarks, and their codes.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "gender": ("male", "female", "unsure"),
    "race": ("caucasian", "african-american", "asian"),
    "age": ("0-3", "4-19", "20-39", "40-69", "70+"),
}


def attributes(path: Path) -> dict[str, str]:
    """Gender, race and age group from a ``*_manu_attri.txt`` file (empty when absent or malformed)."""
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    except OSError:
        return {}
    out = {}
    for (name, values), value in zip(ATTRIBUTES.items(), lines[5:8], strict=False):
        code = int(value) if value.isdigit() else -1
        out[name] = values[code] if 0 <= code < len(values) else "unknown"
    return out


def _image(basic: Path, stem: str) -> Path:
    aligned = basic / "Image" / "aligned" / f"{stem}_aligned.jpg"
    return aligned if aligned.exists() or not (basic / "Image" / "original").is_dir() else basic / "Image" / "original" / f"{stem}.jpg"


def listing(root: Path, spec: DatasetSpec) -> Listing | None:
    """The faces of the RAF-DB release under ``root``, or ``None`` when there is none."""
    basic = probe.rafdb_release(root)
    if basic is None:
        return None
    labels = basic / probe.RAFDB_LABELS
    aligned = (basic / "Image" / "aligned").is_dir()
    out = Listing(f"RAF-DB basic ({labels.name} + {'aligned' if aligned else 'original'}/)", basic, [labels])
    for line, text in enumerate(labels.read_text().splitlines(), start=1):
        where = f"{labels.name}:{line}"
        parts = text.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(CLASSES):
            out.bad.append((where, f"expected '<split>_<number>.jpg <label 1-7>', found {text.strip()!r}"))
            continue
        stem = parts[0].rsplit(".", 1)[0]
        split = stem.split("_", 1)[0]
        if split not in OFFICIAL:
            out.bad.append((where, f"{parts[0]}: the name starts with neither train_ nor test_"))
            continue
        attrs = attributes(basic / "Annotation" / "manual" / f"{stem}_manu_attri.txt")
        out.faces.append(Face(Item(_image(basic, stem)), CLASSES[int(parts[1]) - 1], split, where, attributes=attrs))
    counts = {s: sum(f.group == s for f in out.faces) for s in OFFICIAL}
    if (warning := partial_copy("RAF-DB basic", counts, OFFICIAL)) is not None:
        out.warnings.append(warning)
    return out
