"""RAF-DB basic as released (Li, Deng and Du 2017).

``basic/EmoLabel/list_patition_label.txt`` (sic) lists ``train_00001.jpg 5``: the
split is the name's prefix and labels 1-7 are surprise, fear, disgust, happiness,
sadness, anger, neutral (not FER2013's order: they are mapped by name). Faces come
from ``basic/Image/aligned/train_00001_aligned.jpg`` (100x100) when present, else
``basic/Image/original/train_00001.jpg``; with ``dataset.faces`` always from
``original/``, through the faces stage.

``basic/Annotation/manual/train_00001_manu_attri.txt`` holds eight lines: five
landmarks ``x<TAB>y`` in the original image's pixels (the two eye centres, the nose
tip, the two mouth corners), then the gender code (0 male, 1 female, 2 unsure), the
race code (0 Caucasian, 1 African-American, 2 Asian) and the age group code (0: 0-3,
1: 4-19, 2: 20-39, 3: 40-69, 4: 70+). The attributes are kept with each face; the eyes
serve ``dataset.faces.align: eyes``. ``basic/Annotation/boundingbox/
train_00001_boundingbox.txt`` holds one line ``x_min y_min x_max y_max`` (original
image's pixels): the box ``dataset.faces.detector: boxes`` crops.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ferbench.data import probe
from ferbench.data.images import Item
from ferbench.data.kinds import RAFDB_CLASSES
from ferbench.data.layouts.base import Face, Listing, partial_copy
from ferbench.errors import DataError
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


#: An eye centre or other landmark, in the original image's pixels.
Point = tuple[float, float]


@dataclass(frozen=True)
class Manual:
    """What a ``*_manu_attri.txt`` file says: the five landmarks and the attributes (names, not codes)."""

    landmarks: tuple[Point, ...]  # left eye, right eye, nose tip, left and right mouth corner (as seen)
    attributes: dict[str, str]

    @property
    def eyes(self) -> tuple[Point, Point]:
        return self.landmarks[0], self.landmarks[1]


def _point(line: str) -> Point | None:
    parts = line.split()  # tab-separated in the release; spaces are read too
    try:
        return (float(parts[0]), float(parts[1])) if len(parts) == 2 else None
    except ValueError:
        return None


def manual(path: Path) -> Manual | None:
    """The landmarks and attributes of a ``*_manu_attri.txt`` file; ``None`` when absent or not in the release's format."""
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError):
        return None
    points = [_point(ln) for ln in lines[:5]]
    if len(lines) != 5 + len(ATTRIBUTES) or any(p is None for p in points):
        return None
    attrs = {}
    for (name, values), value in zip(ATTRIBUTES.items(), lines[5:], strict=True):
        code = int(value) if value.isdigit() else -1
        attrs[name] = values[code] if 0 <= code < len(values) else "unknown"
    return Manual(tuple(p for p in points if p is not None), attrs)


def attributes(path: Path) -> dict[str, str]:
    """Gender, race and age group from a ``*_manu_attri.txt`` file (empty when absent or malformed)."""
    found = manual(path)
    return {} if found is None else found.attributes


def bounding_box(path: Path) -> tuple[int, int, int, int] | None:
    """``(x, y, width, height)`` from a ``*_boundingbox.txt`` file (``x_min y_min x_max y_max``), or ``None``."""
    try:
        x0, y0, x1, y1 = (float(v) for v in path.read_text().split())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return (round(x0), round(y0), round(x1 - x0), round(y1 - y0)) if x1 > x0 and y1 > y0 else None


def _image(basic: Path, stem: str) -> Path:
    aligned = basic / "Image" / "aligned" / f"{stem}_aligned.jpg"
    return aligned if aligned.exists() or not (basic / "Image" / "original").is_dir() else basic / "Image" / "original" / f"{stem}.jpg"


def listing(root: Path, spec: DatasetSpec) -> Listing | None:
    """The faces of the RAF-DB release under ``root``, or ``None`` when there is none."""
    basic = probe.rafdb_release(root)
    if basic is None:
        return None
    labels = basic / probe.RAFDB_LABELS
    photos = spec.faces is not None  # the faces stage works on the original photos, never the aligned crops
    if photos and not (basic / "Image" / "original").is_dir():
        raise DataError(f"{basic / 'Image' / 'original'}: not found; dataset.faces detects faces in RAF-DB's original "
                        "images: add basic/Image/original/, or remove dataset.faces to read the aligned faces")
    folder = "original" if photos or not (basic / "Image" / "aligned").is_dir() else "aligned"
    out = Listing(f"RAF-DB basic ({labels.name} + {folder}/)", basic, [labels])
    annotated = (basic / "Annotation" / "manual").is_dir()  # a copy without it has no attributes, and says nothing of them
    malformed = 0
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
        attri = basic / "Annotation" / "manual" / f"{stem}_manu_attri.txt"
        found = manual(attri) if annotated else None
        out.watched += [attri] if annotated else []
        malformed += annotated and found is None
        attrs = found.attributes if found is not None else dict.fromkeys(ATTRIBUTES, "unknown") if annotated else {}
        if photos:
            box_file = basic / "Annotation" / "boundingbox" / f"{stem}_boundingbox.txt"
            box = bounding_box(box_file)
            out.watched.append(box_file)
            item, eyes = Item(basic / "Image" / "original" / f"{stem}.jpg", box), None if found is None else found.eyes
        else:
            item, eyes = Item(_image(basic, stem)), None
        out.faces.append(Face(item, CLASSES[int(parts[1]) - 1], split, where, attributes=attrs, eyes=eyes, name=parts[0]))
    counts = {s: sum(f.group == s for f in out.faces) for s in OFFICIAL}
    if (warning := partial_copy("RAF-DB basic", counts, OFFICIAL)) is not None:
        out.warnings.append(warning)
    if malformed:
        out.warnings.append(f"{malformed} face(s) without a readable Annotation/manual/*_manu_attri.txt (5 landmark lines "
                            "'x<TAB>y', then gender, race and age codes): their attributes are unknown")
    return out
