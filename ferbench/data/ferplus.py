"""FER+ relabelling of FER2013 by majority vote (Barsoum et al. 2016, microsoft/FERPlus).

``fer2013new.csv`` has one row per FER2013 CSV row, in the same order, with ten
crowd votes per face: neutral, happiness, surprise, sadness, anger, disgust, fear,
contempt, unknown, NF (not a face). Its ``Image name`` is not the row index; rows
with an empty name are faces FER+ dropped.

Majority mode, as the FERPlus reader defines it: votes of 1 are removed as
outliers; the face gets the emotion with the most remaining votes only if that
emotion has *more than half* of them; otherwise, or when the winner is unknown or
NF, the face is dropped. A strict majority cannot tie, so there is no tie rule:
a face split evenly between two emotions has no majority and is dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from ferbench.data.classes import FERPLUS_COLUMNS
from ferbench.data.core import RawData
from ferbench.data.ferplus_schemes import targets
from ferbench.errors import DataError

NOT_AN_EMOTION = ("unknown", "NF")


def majority(votes: np.ndarray) -> np.ndarray:
    """Index into :data:`FERPLUS_COLUMNS` of each row's majority, or -1 when there is none."""
    v = np.where(votes <= 1, 0, votes).astype(np.float64)  # single votes are outliers
    total = v.sum(axis=1)
    best = v.argmax(axis=1)
    has = v.max(axis=1) > 0.5 * total
    return np.where(has & (total > 0), best, -1)


def read_votes(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Usage, whether FER+ kept the face, and the (N, 10) votes; plus the file's sha256."""
    import pandas as pd

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the FER+ votes ({exc.strerror}); check dataset.labels") from None
    import io

    try:
        df = pd.read_csv(io.BytesIO(data), dtype={"Image name": str, "Usage": str})
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not a CSV file ({exc}); expected FER+ fer2013new.csv") from None
    missing = [c for c in ("Usage", "Image name", *FERPLUS_COLUMNS) if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}:1: missing column(s) {', '.join(missing)}; expected FER+ columns "
            f"Usage,Image name,{','.join(FERPLUS_COLUMNS)}"
        )
    votes = df[list(FERPLUS_COLUMNS)]
    bad = votes.apply(pd.to_numeric, errors="coerce")
    wrong = bad.isna().any(axis=1) | (bad < 0).any(axis=1)
    if wrong.any():
        line = int(np.flatnonzero(wrong.to_numpy())[0]) + 2
        raise DataError(f"{path}:{line}: votes must be counts >= 0; fix the file or download it again")
    kept = df["Image name"].fillna("").str.strip().ne("").to_numpy()
    return df["Usage"].fillna("").to_numpy(str), kept, bad.to_numpy(np.float64), hashlib.sha256(data).hexdigest()


def relabel(raw: RawData, path: Path, csv_rows: int, mode: str = "majority") -> tuple[RawData, dict[str, int], str]:
    """Replace FER2013 labels by FER+ majority labels: :func:`relabel_rows` with the kept images copied out of ``x``."""
    out, kept, dropped, digest = _relabel(raw, path, csv_rows, mode)
    return replace(out, x=raw.x[kept]), dropped, digest


def relabel_rows(raw: RawData, path: Path, csv_rows: int, mode: str = "majority") -> tuple[RawData, np.ndarray, str]:
    """:func:`relabel` without copying the images: the data's ``x`` is ``raw.x`` whole and row ``i`` of its
    other arrays is image ``kept[i]`` of it (a memory-mapped ``x`` stays mapped). Returns the data, ``kept``
    and the votes file's sha256."""
    out, kept, _, digest = _relabel(raw, path, csv_rows, mode)
    return out, kept, digest


def _relabel(raw: RawData, path: Path, csv_rows: int, mode: str) -> tuple[RawData, np.ndarray, dict[str, int], str]:
    """Replace FER2013 labels by FER+ majority labels.

    ``csv_rows`` is the number of data rows of the FER2013 CSV (including any
    skipped ones): the votes must align with it row for row. Returns the new data
    (faces without a label removed, but ``x`` left whole), the rows of ``x`` kept,
    how many were dropped and why, and the votes file's sha256 (part of the fingerprint).

    Another ``mode`` (:mod:`ferbench.data.ferplus_schemes`) also keeps the faces only
    its rule keeps, labelled by their target's top emotion, and gives the data each
    face's target (``soft``) and whether it has a majority label (``majority_ok``):
    training uses the targets, validation and test the majority faces.
    """
    usage, kept, votes, digest = read_votes(path)
    if len(usage) != csv_rows:
        raise DataError(
            f"{path}: {len(usage)} rows, but the FER2013 CSV has {csv_rows}; FER+ votes are aligned with "
            "fer2013.csv row for row, so both must be the complete files"
        )
    rows = raw.rows
    mismatch = np.flatnonzero(usage[rows] != np.asarray(raw.group_names)[raw.groups])
    if len(mismatch):
        i = int(mismatch[0])
        r = int(rows[i])
        raise DataError(
            f"{path}:{r + 2}: Usage {str(usage[r])!r} differs from the FER2013 CSV's {raw.group_names[raw.groups[i]]!r}; "
            "the two files are not aligned (use the original fer2013.csv with the FER+ fer2013new.csv)"
        )
    label = majority(votes[rows])
    dropped = {
        "FER+ dropped the image": int((~kept[rows]).sum()),
        "no FER+ majority": int(((label < 0) & kept[rows]).sum()),
    }
    for name in NOT_AN_EMOTION:
        dropped[f"FER+ majority {name}"] = int(((label == FERPLUS_COLUMNS.index(name)) & kept[rows]).sum())
    ok = kept[rows] & (label >= 0) & (label < len(FERPLUS_COLUMNS) - len(NOT_AN_EMOTION))
    soft, majority_ok = np.zeros((0, 8), np.float32), np.zeros(0, bool)
    if mode != "majority":
        target, by_rule = targets(votes[rows], mode)
        by_rule &= kept[rows]
        majority_ok = ok.copy()
        label = np.where(ok, label, target.argmax(axis=1))  # the same emotion where both have one
        ok = ok | by_rule
        target[~by_rule] = 0.0  # kept for its majority label only: not a training target
        soft, majority_ok = target[ok, :8].astype(np.float32), majority_ok[ok]
        dropped = {"FER+ dropped the image": int((~kept[rows]).sum()), f"no FER+ {mode} target nor majority": int((kept[rows] & ~ok).sum())}
    out = RawData(
        x=raw.x, labels=label[ok].astype(np.int16), groups=raw.groups[ok], hashes=raw.hashes[ok] if len(raw.hashes) else raw.hashes,
        label_names=FERPLUS_COLUMNS[:8], group_names=raw.group_names,
        source=f"{raw.source} relabelled by FER+ {'majority vote' if mode == 'majority' else mode + ' targets'} ({path.name})",
        rows=rows[ok], skipped=raw.skipped, total=raw.total, warnings=raw.warnings, dropped={**raw.dropped, **{k: v for k, v in dropped.items() if v}},
        soft=soft, majority_ok=majority_ok, names=raw.names[ok] if len(raw.names) == len(ok) else raw.names,
        votes=votes[rows][ok].astype(np.float32), blank=raw.blank[ok] if len(raw.blank) == len(ok) else raw.blank,
    )
    return out, np.flatnonzero(ok), dropped, digest
