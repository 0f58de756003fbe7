"""FER+'s four label schemes (Barsoum et al. 2016, microsoft/FERPlus ``_process_data``).

Each face has ten crowd votes (:data:`~ferbench.data.classes.FERPLUS_COLUMNS`).
Every scheme first removes single votes as outliers, then:

- ``majority``: the emotion with more than half of the remaining votes, or none;
- ``probability`` and ``crossentropy``: the vote distribution over the top emotions,
  taken in order of votes until they hold 75% of the votes or three emotions are
  taken (ties taken together); the face is dropped when they hold half the votes or
  less, when more than three are tied in, or when unknown / not-a-face is reached
  first. ``probability`` samples a hard label from it each epoch, ``crossentropy``
  trains on it as a soft target;
- ``multi_target``: every emotion with at least 30% of the votes; dropped when they
  hold half the votes or less. A prediction counts as right when it is any of them.

A face whose target peaks on unknown or not-a-face is dropped under every scheme.
"""

from __future__ import annotations

import numpy as np

MODES: tuple[str, ...] = ("majority", "probability", "crossentropy", "multi_target")
#: Vote columns that are not emotions (unknown, NF): the last two.
EMOTIONS = 8


def _spread(v: np.ndarray, total: float) -> np.ndarray | None:
    """The probability / crossentropy target of one row of cleaned votes, or ``None`` when dropped."""
    out = np.zeros_like(v)
    left = v.copy()
    part, count = 0.0, 0
    while part < 0.75 * total and count < 3:
        top = left.max()
        for i in np.flatnonzero(left == top):
            out[i], left[i] = top, 0.0
            part += top
            count += 1
            if i >= EMOTIONS:  # unknown or not-a-face tied in: taken only if nothing came before it
                if out.sum() > top:
                    out[i] = 0.0
                    count -= 1
                return out if out.sum() > 0.5 * total and count <= 3 else None
    return out if out.sum() > 0.5 * total and count <= 3 else None


def targets(votes: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Each face's target over the ten columns (rows sum to 1) and whether the scheme keeps it."""
    v = np.where(votes <= 1, 0.0, votes.astype(np.float64))  # single votes are outliers
    total = v.sum(axis=1)
    out = np.zeros_like(v)
    if mode == "majority":
        best = v.argmax(axis=1)
        ok = v.max(axis=1) > 0.5 * total
        out[np.flatnonzero(ok), best[ok]] = 1.0
    elif mode == "multi_target":
        sel = np.where(v >= 0.3 * total[:, None], v, 0.0)
        ok = sel.sum(axis=1) > 0.5 * total
        out[ok] = sel[ok] / sel[ok].sum(axis=1, keepdims=True)
    elif mode in ("probability", "crossentropy"):
        ok = np.zeros(len(v), bool)
        for r in range(len(v)):
            row = _spread(v[r], float(total[r]))
            if row is not None:
                out[r], ok[r] = row / row.sum(), True
    else:
        raise ValueError(f"unknown FER+ label scheme {mode!r}; use one of {', '.join(MODES)}")
    ok &= (total > 0) & (out.argmax(axis=1) < EMOTIONS)
    return out, ok


def rule_counts(usage: np.ndarray, named: np.ndarray, votes: np.ndarray) -> dict[str, dict[str, dict[str, int]]]:
    """Per scheme and FER2013 Usage: faces kept and dropped (faces FER+ left unnamed count as dropped)."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    kept: dict[str, np.ndarray] = {}
    for mode in MODES:  # crossentropy keeps what probability keeps: one target, used two ways
        ok = kept["probability"] if mode == "crossentropy" else targets(votes, mode)[1] & named
        kept[mode] = ok
        out[mode] = {
            str(u): {"kept": int((ok & (usage == u)).sum()), "dropped": int((~ok & (usage == u)).sum())}
            for u in dict.fromkeys(usage.tolist())
        }
    return out
