"""``load_dataset``: detect the layout, decode or read the cache, apply classes and splits."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from ferbench.data import cache as cache_mod
from ferbench.data import near_duplicates, subject_folds
from ferbench.data.classes import label_table
from ferbench.data.core import LoadedDataset, RawData, Source, SplitData
from ferbench.data.images import DRAFT_MARGIN, JPEG_DECODER, resize_array, spill_to, to_channels
from ferbench.data.layout import detect
from ferbench.data.memory import budget_bytes, by_chunks, take
from ferbench.data.names import csv_names
from ferbench.data.splits import blank_mask, cross_duplicates, fold_split, resolve
from ferbench.data.unfinished import stale_note
from ferbench.errors import DataError
from ferbench.spec.types import SPLITS, DatasetSpec, DerivedSplit

#: Bad samples named in an error before "... and N more".
SHOWN = 8
#: Kinds whose faces are cropped from photos by listed boxes (their cache key names the draft rule).
FACE_BOX_KINDS = frozenset({"affectnet", "expw"})

def _expand(p: str) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(p)))


def _bad_policy(spec: DatasetSpec, raw: RawData, bad: list[tuple[str, str]], what: str) -> RawData:
    if not bad:
        return raw
    shown = "\n  ".join(f"{w}: {why}" for w, why in bad[:SHOWN])
    more = f"\n  ... and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
    if spec.on_bad_sample == "error":
        raise DataError(
            f"{what}: {len(bad)} bad sample(s):\n  {shown}{more}\n"
            "Fix or remove them, or set dataset.on_bad_sample: skip to leave them out (they are counted)."
        )
    note = f"skipped {len(bad)} bad sample(s) (dataset.on_bad_sample: skip): " + "; ".join(f"{w}: {why}" for w, why in bad[:3])
    return replace(raw, skipped=raw.skipped + len(bad), warnings=(*raw.warnings, note + (" ..." if len(bad) > 3 else "")))


def _decode(spec: DatasetSpec, src: Source, progress: bool) -> tuple[RawData, str]:
    raw, digest, bad = src.read(progress)
    where = str(src.files[0] if src.layout == "csv" else src.root)
    raw = _bad_policy(spec, raw, bad, where)
    if not len(raw.x):
        raise DataError(f"{where}: no readable sample ({raw.skipped} skipped); check dataset.path and the files in it")
    x = to_channels(resize_array(raw.x, spec.image_size), spec.color)
    hashes, blank = by_chunks(x, cache_mod.image_hashes), by_chunks(x, blank_mask)  # a mapped x is read, not kept resident
    raw = replace(raw, x=x, hashes=hashes, blank=blank, warnings=(*raw.warnings, *src.warnings))
    return raw, digest


def _raw(spec: DatasetSpec, seed: int, progress: bool, budget: int) -> tuple[RawData, str, str]:
    """The decoded source (from the cache when possible), its cache key and its layout."""
    if spec.kind == "synthetic":
        from ferbench.data.synthetic import generate

        raw = generate(spec, seed)
        raw = replace(raw, hashes=cache_mod.image_hashes(raw.x))
        key = cache_mod.sha256_hex("synthetic", raw.source, spec.synthetic, spec.classes, spec.image_size, spec.color, seed)
        return raw, key, "synthetic"
    src = detect(spec)
    root = cache_mod.cache_root(spec.cache)
    skey = cache_mod.stat_key(src.files, src.root)
    prep: tuple[object, ...] = (cache_mod.FORMAT, spec.kind, src.layout, spec.image_size, spec.color, spec.on_bad_sample)
    if spec.faces is not None:  # only then, so the keys of cropped datasets stay as they were
        prep += ("faces", repr(spec.faces))
    if spec.kind in FACE_BOX_KINDS or spec.faces is not None:  # JPEG face boxes: decoded by the draft rule
        prep += ("draft", DRAFT_MARGIN, JPEG_DECODER)
    digest = cache_mod.known_digest(root, skey)
    stale = False  # a cache entry written before image names were kept: decoded again and replaced
    if digest is not None:
        key = cache_mod.sha256_hex(digest, *prep)
        cached = cache_mod.load_raw(root, key)
        if cached is not None and len(cached.names) != len(cached.x) and src.layout == "csv":
            cached = replace(cached, names=csv_names(cached.groups, cached.group_names, cached.rows))
        if cached is not None and len(cached.names) == len(cached.x):
            return cached, key, src.layout
        stale = cached is not None
    with spill_to(root, budget):  # a source larger than the budget is decoded into the cache folder
        raw, digest = _decode(spec, src, progress)
    key = cache_mod.sha256_hex(digest, *prep)
    problem = cache_mod.save_raw(root, key, raw, replace=stale) or cache_mod.remember_digest(root, skey, digest)
    if problem is not None:  # one warning, however many writes failed
        raw = replace(raw, warnings=(*raw.warnings, (
            f"cannot write the data cache {root} ({problem}); loaded without caching, so the next load decodes again. "
            "Make it writable, or set dataset.cache or $FERBENCH_CACHE to a writable folder"
        )))
    return raw, key, src.layout


def labels_file(spec: DatasetSpec) -> Path:
    """``dataset.labels`` (the FER+ votes), relative to the dataset folder when not found as given."""
    assert spec.labels is not None
    p = _expand(spec.labels)
    if not p.is_absolute() and not p.exists() and spec.path:
        base = _expand(spec.path)
        p = (base if base.is_dir() else base.parent) / p
    return p


def _fingerprint(spec: DatasetSpec, key: str, labels_digest: str | None, seed: int, folded: bool, by_subject: bool) -> str:
    """What makes the loaded data what it is: the source, labels, classes, splits, and (only where
    set, so older fingerprints stay as they were) folds, near-duplicate cleaning and FER+ scheme."""
    derived = any(isinstance(getattr(spec.splits, k), DerivedSplit) for k in SPLITS)
    parts: tuple[object, ...] = (key, labels_digest, spec.classes, dict(spec.class_map), repr(spec.splits), seed if derived or folded else None)
    if folded:
        parts += ("folds", spec.folds, spec.fold)
        parts += ("by subject",) if by_subject else ()
    if spec.exclude_near_duplicates != "none":
        parts += ("exclude near-duplicates", spec.exclude_near_duplicates)
    if spec.labels and spec.labels_mode != "majority":
        parts += ("FER+ labels", spec.labels_mode)
    return cache_mod.sha256_hex(*parts)


def _folds(
    spec: DatasetSpec, raw: RawData, index: dict[str, tuple[np.ndarray, str]], y: np.ndarray, seed: int
) -> tuple[dict[str, tuple[np.ndarray, str]], list[str], list[dict[str, object]]]:
    """The splits of ``dataset.fold`` (unchanged without one), notes, and the subject folds' summary."""
    if not spec.folds:
        return index, [], []
    if spec.folds_by == "subject":
        if not len(raw.subjects):
            raise DataError(f"dataset.folds.by: subject, but {raw.source} names no subject per image; use by: sample or a dataset with subjects")
        table = subject_folds.summary(index, y, raw.subjects, spec.folds, seed, spec.classes)
        return (subject_folds.split(index, y, raw.subjects, spec.folds, spec.fold, seed) if spec.fold else index), [], table
    if not spec.fold:
        return index, [], []
    out, notes = fold_split(index, spec.splits, y, spec.folds, spec.fold, seed)
    return out, notes, []


def _to_classes(table: list[int], k: int) -> np.ndarray:
    """The 0/1 matrix taking the FER+ emotion columns to the spec's classes (a dropped emotion: a zero row)."""
    out = np.zeros((len(table), k), np.float32)
    for j, c in enumerate(table):
        if c >= 0:
            out[j, c] = 1.0
    return out


def _vote_distributions(raw: RawData, index: dict[str, tuple[np.ndarray, str]], table: list[int], y: np.ndarray,
                        k: int) -> dict[str, np.ndarray]:
    """FER+ votes: each validation and test face's votes over the spec's classes, as shares summing to 1.

    Every vote counts (single votes too: the distribution is what the crowd said);
    votes for unknown, not-a-face and emotions outside the spec's classes are left
    out. A face with none left is its label's one-hot row.
    """
    if not len(raw.votes):
        return {}
    to_class = _to_classes(table, k)
    out = {}
    for split in ("validation", "test"):
        idx = index[split][0]
        v = raw.votes[idx, : len(table)].astype(np.float64) @ to_class
        mass = v.sum(axis=1, keepdims=True)
        onehot = np.eye(k)[y[idx]] if len(idx) else np.zeros((0, k))
        out[split] = np.where(mass > 0, v / np.where(mass > 0, mass, 1.0), onehot).astype(np.float32)
    return out


def _scheme_targets(
    spec: DatasetSpec, raw: RawData, index: dict[str, tuple[np.ndarray, str]], table: list[int]
) -> tuple[dict[str, tuple[np.ndarray, str]], np.ndarray]:
    """FER+ schemes but majority: train keeps the faces with a target (over the spec's classes,
    renormalised), validation and test the faces with a majority label. Returns the splits and
    the training targets, row for row."""
    to_class = _to_classes(table[: raw.soft.shape[1]], len(spec.classes))
    out = {k: (idx[raw.majority_ok[idx]], name) for k, (idx, name) in index.items()}
    train, name = index["train"]
    soft = raw.soft[train] @ to_class
    mass = soft.sum(axis=1)
    out["train"] = (train[mass > 0], name)
    soft = soft[mass > 0] / mass[mass > 0, None]
    return out, soft.astype(np.float32)


def _clean_test(x: np.ndarray, index: dict[str, tuple[np.ndarray, str]],
                base: np.ndarray | None = None) -> tuple[dict[str, tuple[np.ndarray, str]], str]:
    """``dataset.exclude_near_duplicates: test``: test images with a near-duplicate in train or validation left out.
    The splits' images are read from ``x`` (rows ``base[idx]`` where given) a chunk at a time, never copied whole."""
    idx, name = index["test"]
    rows = (lambda i: i) if base is None else (lambda i: base[i])
    hit = near_duplicates.leaked(x, [x, x], rows(idx), [rows(index["train"][0]), rows(index["validation"][0])])
    out = dict(index)
    out["test"] = (np.delete(idx, hit), f"{name}[cleaned: {len(hit)} near-duplicates left out]")
    note = (f"test ({name}) cleaned: {len(hit)} of {len(idx)} image(s) with a near-duplicate in train or validation "
            "left out (dataset.exclude_near_duplicates: test); the protocol is no longer the published one")
    return out, note


def _class_labels(spec: DatasetSpec, raw: RawData) -> tuple[list[int], dict[str, int], np.ndarray]:
    """The source's labels in the spec's classes: the label table, the labels left out, each image's class (-1: left out)."""
    table, left_out = label_table(raw.label_names, spec.kind, spec.class_map, spec.classes, raw.source)
    y_all = np.asarray(table, np.int64)[raw.labels] if len(raw.labels) else np.zeros(0, np.int64)
    present = set(np.unique(y_all[y_all >= 0]).tolist())
    missing = [c for i, c in enumerate(spec.classes) if i not in present]
    if missing:
        raise DataError(
            f"{raw.source}: no samples of class(es) {', '.join(missing)}; its labels are {', '.join(raw.label_names)}. "
            "Remove them from dataset.classes, or map a label to them with dataset.class_map."
        )
    return table, left_out, y_all


def _make_splits(spec: DatasetSpec, raw: RawData, index: dict[str, tuple[np.ndarray, str]], y_all: np.ndarray, key: str,
                 budget: int, base: np.ndarray | None = None) -> tuple[dict[str, SplitData], list[str]]:
    """The splits' arrays (memory-mapped from the cache when they exceed the memory budget) and the warnings about them.
    ``base``: the row of ``raw.x`` of each of raw's other rows, where they differ (FER+ relabelling)."""
    warnings: list[str] = []
    per_image = int(np.prod(raw.x.shape[1:], dtype=np.int64))
    # In memory, the source and its splits are held at once while loading: mapped when both would not fit.
    mapped = isinstance(raw.x, np.memmap) and 2 * sum(len(idx) for idx, _ in index.values()) * per_image > budget
    root = cache_mod.cache_root(spec.cache)
    splits = {k: SplitData(x=take(raw.x, idx if base is None else base[idx], mapped=mapped, cache=root, key=key), y=y_all[idx], name=name,
                           images=raw.names[idx] if len(raw.names) else raw.names)
              for k, (idx, name) in index.items()}
    if mapped:
        total = sum(len(idx) for idx, _ in index.values()) * per_image
        warnings.append(f"the splits ({total / 2**20:,.0f} MiB, twice that while loading) exceed the memory budget "
                        f"({budget / 2**20:,.0f} MiB, runtime.memory_mb): "
                        f"they are memory-mapped from the data cache {root} and read as used")
    for k, s in splits.items():
        absent = [c for i, c in enumerate(spec.classes) if not (s.y == i).any()]
        if absent and k == "train":
            raise DataError(f"dataset.splits.train ({s.name}) has no samples of {', '.join(absent)}; the model could never learn them")
        if absent:
            warnings.append(f"{k} ({s.name}) has no samples of {', '.join(absent)}")
    return splits, warnings


def load_dataset(spec: DatasetSpec, *, seed: int = 0, progress: bool = True, memory_mb: int | None = None) -> LoadedDataset:
    """Load the dataset a spec describes: train, validation and test in the spec's class order.

    The source is detected under ``spec.path`` (a file or a dataset folder), decoded
    once and cached (see :func:`ferbench.data.cache.cache_root`); later loads read
    the cache. ``seed`` drives derived splits and the synthetic generator.
    ``memory_mb`` is the memory budget (``runtime.memory_mb``; ``None``: half the
    machine's memory): splits that together exceed it are memory-mapped from the
    cache (:mod:`ferbench.data.memory`) instead of held in memory.
    Raises :class:`~ferbench.errors.DataError` for anything wrong with the data.
    """
    budget = budget_bytes(memory_mb)
    # What loads killed before they could clean up left in the cache folder: removed before this one writes.
    freed = None if spec.kind == "synthetic" else stale_note(cache_mod.cache_root(spec.cache))
    raw, key, layout = _raw(spec, seed, progress, budget)
    labels_digest, base = None, None
    if spec.labels:
        if layout != "csv":
            raise DataError(f"dataset.labels (FER+ votes) needs the FER2013 Kaggle CSV; {raw.source} has no row order to align with")
        from ferbench.data.ferplus import relabel_rows

        # x stays whole: a memory-mapped source is not copied; its rows are picked with the splits
        raw, base, labels_digest = relabel_rows(raw, labels_file(spec), raw.total, spec.labels_mode)
    table, left_out, y_all = _class_labels(spec, raw)
    index = resolve(spec.splits, raw.groups, raw.group_names, y_all, seed, raw.source)
    warnings = [*raw.warnings, *([freed] if freed else [])]
    index, fold_notes, fold_table = _folds(spec, raw, index, y_all, seed)
    warnings += fold_notes
    folded, by_subject = bool(spec.folds and spec.fold), bool(fold_table)
    soft_train = None
    if len(raw.soft):
        index, soft_train = _scheme_targets(spec, raw, index, table)
    if spec.exclude_near_duplicates == "test":
        index, note = _clean_test(raw.x, index, base)
        warnings.append(note)
    splits, notes = _make_splits(spec, raw, index, y_all, key, budget, base)
    warnings += notes
    idx_only = {k: v[0] for k, v in index.items()}
    duplicates = cross_duplicates(raw.hashes, idx_only)
    warnings += [f"{n} {pair.split('&')[1]} image(s) also occur in {pair.split('&')[0]} (exact duplicates)" for pair, n in duplicates.items() if n]
    known = len(raw.blank) == len(raw.labels)  # else (older cache entries) the images are read, a chunk at a time
    blank = {k: int((raw.blank[index[k][0]] if known else by_chunks(s.x, blank_mask)).sum()) for k, s in splits.items()}
    excluded = dict(raw.dropped)
    for name, i in left_out.items():
        excluded[name] = int((raw.labels == i).sum())
    fingerprint = _fingerprint(spec, key, labels_digest, seed, folded, by_subject)
    subjects = {k: raw.subjects[idx] for k, idx in idx_only.items()} if len(raw.subjects) else {}
    attributes = {k: {a: v[idx] for a, v in raw.attributes.items()} for k, idx in idx_only.items()} if raw.attributes else {}
    return LoadedDataset(
        classes=tuple(spec.classes), splits=splits, fingerprint=fingerprint, source=raw.source,
        duplicates=duplicates, skipped=raw.skipped, warnings=tuple(warnings), blank=blank, excluded=excluded, faces=raw.faces,
        subjects=subjects, attributes=attributes, folds=fold_table, soft_train=soft_train, labels_mode=spec.labels_mode,
        votes=_vote_distributions(raw, index, table, y_all, len(spec.classes)),
    )
