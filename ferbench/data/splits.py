"""Spec splits from a source's named splits, derived splits, and overlap checks.

A named split is one of the source's own (FER2013 Usage values, split folders,
AffectNet list files), case-insensitively, with common aliases (``train`` =
``Training``, ``val`` = ``validation``) and ``+`` joins (``PublicTest+PrivateTest``).
A derived split (``{from: train, fraction: 0.1}``) is carved out of another spec
split with a seeded generator, stratified by class when asked, and removed from it.
"""

from __future__ import annotations

import zlib

import numpy as np

from ferbench.errors import DataError
from ferbench.spec.types import SPLIT_ALIASES, SPLIT_JOINS, SPLITS, DerivedSplit, Splits, split_overlap_fix


def _match(name: str, group_names: tuple[str, ...]) -> list[int]:
    low = name.strip().lower()
    lows = [g.lower() for g in group_names]
    if low in lows:
        return [lows.index(low)]
    for group in SPLIT_ALIASES:
        if low in group:
            hits = [i for i, g in enumerate(lows) if g in group]
            if len(hits) == 1:
                return hits
    if low in SPLIT_JOINS and all(p in lows for p in SPLIT_JOINS[low]):
        return [lows.index(p) for p in SPLIT_JOINS[low]]
    return []


def named_indices(ref: str, groups: np.ndarray, group_names: tuple[str, ...], key: str, source: str) -> np.ndarray:
    """Sample indices of a named split (``"Training"``, ``"PublicTest+PrivateTest"``, ``"val"``)."""
    ids: list[int] = []
    for part in ref.split("+"):
        hit = _match(part, group_names)
        if not hit:
            raise DataError(
                f"dataset.splits.{key}: {part.strip()!r} is not a split of {source}; it has "
                f"{', '.join(group_names)} (join with '+', or derive one: {{from: train, fraction: 0.1}})"
            )
        ids += hit
    return np.flatnonzero(np.isin(groups, ids))


def _carve(pool: np.ndarray, y: np.ndarray, fraction: float, stratified: bool, rng: np.random.Generator) -> np.ndarray:
    """Indices (a subset of ``pool``) taken for a derived split."""
    if not stratified:
        n = int(round(fraction * len(pool)))
        return np.sort(rng.permutation(pool)[:n])
    taken = []
    for c in np.unique(y[pool]):
        members = pool[y[pool] == c]
        n = int(round(fraction * len(members)))
        taken.append(rng.permutation(members)[:n])
    return np.sort(np.concatenate(taken)) if taken else pool[:0]


def resolve(
    splits: Splits, groups: np.ndarray, group_names: tuple[str, ...], y: np.ndarray, seed: int, source: str
) -> dict[str, tuple[np.ndarray, str]]:
    """Spec split -> (sample indices, description). ``y`` < 0 marks samples left out."""
    refs = {k: getattr(splits, k) for k in SPLITS}
    out: dict[str, tuple[np.ndarray, str]] = {}
    for key, ref in refs.items():
        if isinstance(ref, DerivedSplit):
            continue
        if not isinstance(ref, str) or not ref.strip():
            raise DataError(f"dataset.splits.{key}: not set; name a split of {source} ({', '.join(group_names)}) or derive one")
        idx = named_indices(ref, groups, group_names, key, source)
        out[key] = (idx[y[idx] >= 0], ref)
    names = list(out)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if np.intersect1d(out[a][0], out[b][0]).size:
                raise DataError(f"dataset.splits: {a} ({out[a][1]}) and {b} ({out[b][1]}) share samples; {split_overlap_fix(a, b)}")
    for key, ref in refs.items():
        if not isinstance(ref, DerivedSplit):
            continue
        if ref.source not in out:
            raise DataError(
                f"dataset.splits.{key}: derived from {ref.source!r}, which is itself derived or missing; "
                "derive from a named split"
            )
        pool, desc = out[ref.source]
        # The generator depends on the seed and the split's name only, so the same spec
        # carves the same samples wherever it runs.
        rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
        taken = _carve(pool, y, ref.fraction, ref.stratified, rng)
        out[key] = (taken, f"{desc}[derived {ref.fraction:g}]")
        out[ref.source] = (np.setdiff1d(pool, taken, assume_unique=True), desc)
    for key in SPLITS:
        rest = [r for r in refs.values() if isinstance(r, DerivedSplit) and r.source == key]
        if rest:
            share = 1 - sum(r.fraction for r in rest)
            out[key] = (out[key][0], f"{out[key][1]}[rest {share:g}]")
        if not len(out[key][0]):
            raise DataError(f"dataset.splits.{key}: {out[key][1]} holds no samples of the spec's classes; choose another split")
    return {k: out[k] for k in SPLITS}


def fold_split(
    index: dict[str, tuple[np.ndarray, str]], splits: Splits, y: np.ndarray, folds: int, fold: int, seed: int
) -> tuple[dict[str, tuple[np.ndarray, str]], list[str]]:
    """k-fold cross-validation: train + validation pooled and cut into ``folds`` stratified folds
    (scikit-learn's ``StratifiedKFold``, shuffled with ``seed``); fold ``fold`` (1-based) validates,
    the others train. The test split is left as it is. Returns the new index and warnings.
    """
    import warnings

    from sklearn.model_selection import StratifiedKFold

    pool = np.sort(np.concatenate([index["train"][0], index["validation"][0]]))
    refs = [splits.train, splits.validation]
    name = "+".join(r for r in refs if isinstance(r, str))
    counts = np.bincount(y[pool])
    notes: list[str] = []
    if counts[counts > 0].min() < folds:
        raise DataError(f"dataset.folds: {name} has only {int(counts[counts > 0].min())} sample(s) of a class, "
                        f"fewer than the {folds} folds; use fewer folds")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(pool)), y[pool]))
    notes += [str(w.message) for w in caught]
    train_idx, val_idx = parts[fold - 1]
    out = dict(index)
    out["train"] = (pool[train_idx], f"{name}[{folds} folds, all but fold {fold}]")
    out["validation"] = (pool[val_idx], f"{name}[fold {fold} of {folds}]")
    return out, notes


def blank_mask(x: np.ndarray) -> np.ndarray:
    """Images whose pixels all have one value (FER2013 has a few all-black ones)."""
    flat = x.reshape(len(x), -1)
    same: np.ndarray = flat.max(axis=1) == flat.min(axis=1)
    return same


def cross_duplicates(hashes: np.ndarray, index: dict[str, np.ndarray]) -> dict[str, int]:
    """For each pair a&b (in train, validation, test order): images of b also in a."""
    out = {}
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1 :]:
            out[f"{a}&{b}"] = int(np.isin(hashes[index[b]], hashes[index[a]]).sum())
    return out
