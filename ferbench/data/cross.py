"""Extra test sets (``evaluate.on``): loaded like the spec's own dataset, matched to the model's classes.

Each set is a dataset block of its own (FER+ relabelled, AffectNet's validation
list, an image folder, synthetic faces) at the model's input size and colour; one
of its splits is scored. Its classes meet the model's by name
(:mod:`ferbench.data.classmap`), and images that also occur in the run's training
split are counted, since a test image seen in training flatters the model. No TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ferbench.data.cache import image_hashes
from ferbench.data.classmap import ClassMapping, ClassMappingError, map_classes
from ferbench.data.core import LoadedDataset, SplitData
from ferbench.data.load import load_dataset
from ferbench.data.memory import by_chunks
from ferbench.data.names import read_list, select
from ferbench.errors import DataError
from ferbench.spec.types import SPLITS, CrossSetSpec


@dataclass(frozen=True)
class CrossSet:
    """One extra test set, ready to score: images, labels (indices into ``mapping.set_classes``), mapping."""

    name: str
    x: np.ndarray
    y: np.ndarray
    mapping: ClassMapping
    info: dict[str, Any]  # run.json's dataset.cross.<name>
    warnings: tuple[str, ...]


def whole(loaded: LoadedDataset) -> SplitData:
    """The three splits of a dataset as one (``split: all``): a set scored whole."""
    parts = [loaded.splits[k] for k in SPLITS]
    named = all(len(p.images) == len(p) for p in parts)
    return SplitData(x=np.concatenate([p.x for p in parts]), y=np.concatenate([p.y for p in parts]),
                     name="+".join(p.name for p in parts), images=np.concatenate([p.images for p in parts]) if named else np.zeros(0, str))


def list_file(spec: CrossSetSpec) -> Path:
    """``images`` of an extra test set: as given, else relative to its dataset folder."""
    assert spec.images is not None
    p = Path(os.path.expandvars(os.path.expanduser(spec.images)))
    if not p.is_absolute() and not p.exists() and spec.dataset.path:
        base = Path(os.path.expandvars(os.path.expanduser(spec.dataset.path)))
        p = (base if base.is_dir() else base.parent) / p
    return p


def subset(spec: CrossSetSpec, split: SplitData) -> tuple[SplitData, dict[str, Any]]:
    """The images of ``split`` that ``spec.images`` lists, and what run.json says of the list."""
    path = list_file(spec)
    wanted = read_list(path)
    idx = select(split.images, wanted, f"evaluate.on {spec.name}: {path}")
    info = {"images": str(path), "listed": len(wanted), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return SplitData(x=split.x[idx], y=split.y[idx], name=f"{split.name}[{path.name}: {len(idx)} images]", images=split.images[idx]), info


def load_cross_set(spec: CrossSetSpec, model_classes: tuple[str, ...], train_x: np.ndarray, *, seed: int = 0,
                   progress: bool = False) -> CrossSet:
    """Load ``spec``'s dataset, keep the split it scores, and match its classes with the model's."""
    loaded = load_dataset(spec.dataset, seed=seed, progress=progress)
    try:
        mapping = map_classes(model_classes, loaded.classes)
    except ClassMappingError as exc:  # the spec checks refuse this first; a hand-built spec may not
        raise DataError(f"evaluate.on {spec.name}: {exc}") from None
    split = whole(loaded) if spec.split == "all" else loaded.splits[spec.split]
    listed: dict[str, Any] = {}
    if spec.images is not None:
        split, listed = subset(spec, split)
    # a chunk at a time: a memory-mapped train split is read, not kept resident
    shared = np.isin(by_chunks(split.x, image_hashes), by_chunks(train_x, image_hashes))
    warnings = [f"evaluate.on {spec.name}: {w}" for w in loaded.warnings]
    if shared.any():
        warnings.append(f"evaluate.on {spec.name}: {int(shared.sum())} of its {len(split)} images also occur in the run's train split "
                        "(exact duplicates); they flatter the model")
    dropped = {c: int((split.y == i).sum()) for i, c in enumerate(mapping.set_classes) if mapping.labels[i] < 0}
    info: dict[str, Any] = {
        "kind": spec.dataset.kind,
        "source": str(loaded.source),
        "fingerprint": str(loaded.fingerprint),
        "labels": spec.dataset.labels,
        "split": split.name,
        "classes": list(mapping.classes),
        "size": int(len(split)) - sum(dropped.values()),
        "dropped": dropped,
        "in_train": int(shared.sum()),
        "mapping": mapping.describe(),
        **({"list": listed} if listed else {}),
    }
    return CrossSet(spec.name, split.x, np.asarray(split.y, np.int64), mapping, info, tuple(warnings))
