"""Map each source's own labels onto the one class vocabulary.

FER2013 numbers its classes 0 angry .. 6 neutral, AffectNet 0 neutral .. 7 contempt,
FER+ names its vote columns (happiness, anger, ...) and folder copies use either
names in many spellings or the source's digits. Everything meets in
:data:`ferbench.spec.types.CLASS_VOCABULARY`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ferbench.data.kinds import AFFECTNET_CLASSES, KINDS
from ferbench.errors import DataError
from ferbench.spec.types import CLASS_VOCABULARY

__all__ = ["AFFECTNET_CLASSES", "AFFECTNET_NOT_A_CLASS", "DIGITS", "DIGIT_BASE", "FERPLUS_COLUMNS", "SYNONYMS", "label_table", "to_vocabulary"]

#: AffectNet ``expression`` codes that are not classes (0-7 are :data:`AFFECTNET_CLASSES`).
AFFECTNET_NOT_A_CLASS: dict[int, str] = {8: "none", 9: "uncertain", 10: "non-face"}

#: FER+ vote columns, in file order; the last two are not classes.
FERPLUS_COLUMNS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF",
)

#: Spellings met in public folder copies (Kaggle FER2013, AffectNet mirrors, RAF-DB, CK+).
SYNONYMS: dict[str, str] = {
    "anger": "angry", "angry": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "neutral": "neutral", "calm": "neutral",
    "contempt": "contempt", "contemptuous": "contempt",
}

#: The digits a folder copy of each source uses for its class folders (from the kinds table).
DIGITS: dict[str, tuple[str, ...]] = {k.name: k.digits for k in KINDS.values() if k.digits is not None}
#: The digit of each kind's first class folder (RAF-DB counts from 1).
DIGIT_BASE: dict[str, int] = {k.name: k.digit_base for k in KINDS.values()}


def to_vocabulary(label: str, kind: str, class_map: Mapping[str, str]) -> str | None:
    """The vocabulary class of a source label, or ``None`` when it names no class.

    The spec's ``class_map`` wins; then the source's digits (FER2013 and AffectNet
    number their classes differently); then known spellings, case-insensitively.
    """
    if label in class_map:
        return class_map[label]
    low = label.strip().lower()
    for key, value in class_map.items():
        if key.strip().lower() == low:
            return value
    if low.isdigit() and kind in DIGITS:
        table, i = DIGITS[kind], int(low) - DIGIT_BASE[kind]
        return table[i] if 0 <= i < len(table) else None
    if low in CLASS_VOCABULARY:
        return low
    return SYNONYMS.get(low)


def label_table(
    label_names: tuple[str, ...], kind: str, class_map: Mapping[str, str], classes: tuple[str, ...], where: str
) -> tuple[list[int], dict[str, int]]:
    """For each source label: its index in ``classes``, or -1 when the spec leaves it out.

    Returns the table and, for the labels left out, their vocabulary class (for the
    report). A label that maps to nothing at all is an error: it is a folder nobody
    told us about, and guessing would silently mislabel it.
    """
    table: list[int] = []
    left_out: dict[str, int] = {}
    unknown = []
    for i, name in enumerate(label_names):
        cls = to_vocabulary(name, kind, class_map)
        if cls is None:
            unknown.append(name)
            table.append(-1)
        elif cls in classes:
            table.append(classes.index(cls))
        else:
            table.append(-1)
            left_out[name if name == cls else f"{name} ({cls})"] = i
    if unknown:
        hint = ", ".join(f"{u}: <class>" for u in unknown[:3])
        raise DataError(
            f"{where}: label(s) {', '.join(map(repr, unknown))} name no class of {', '.join(CLASS_VOCABULARY)}; "
            f"map them in the spec, e.g. dataset.class_map: {{{hint}}}"
        )
    return table, left_out
