"""The data objects every loader produces and every consumer reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class SplitData:
    """One split, decoded and resized: ``x`` uint8 N×H×W×C, ``y`` int64 class indices."""

    x: np.ndarray
    y: np.ndarray
    name: str  # what it came from, e.g. "PrivateTest" or "train[derived 0.1]"
    #: Each image's name (see :attr:`RawData.names`), row for row; empty where the source names none.
    images: np.ndarray = field(default_factory=lambda: np.zeros(0, str))

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def counts(self, num_classes: int) -> np.ndarray:
        """Samples per class index (length ``num_classes``)."""
        return np.bincount(self.y, minlength=num_classes)


@dataclass(frozen=True)
class LoadedDataset:
    """A dataset ready for training: three splits in the spec's class order."""

    classes: tuple[str, ...]
    splits: dict[str, SplitData]  # keyed by ferbench.spec.types.SPLITS
    fingerprint: str  # sha256 of the source files' content + preprocessing + split definition
    source: str  # the layout found, e.g. "FER2013 Kaggle CSV (fer2013.csv.gz)"
    duplicates: dict[str, int]  # "train&validation": images of validation also in train, ...
    skipped: int  # bad samples dropped under on_bad_sample: skip
    warnings: tuple[str, ...]
    #: Constant (all-one-value) images per split; FER2013 has a few all-black ones.
    blank: dict[str, int] = field(default_factory=dict)
    #: Samples left out on purpose, by source label (a class not in the spec, AffectNet 8-10).
    excluded: dict[str, int] = field(default_factory=dict)
    #: The faces stage's counts (``dataset.faces``), see :attr:`RawData.faces`; empty without it.
    faces: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    #: Subject id of each sample, per split (CK+, JAFFE, KDEF); empty where the source names none.
    subjects: dict[str, np.ndarray] = field(default_factory=dict)
    #: Per-sample attributes (RAF-DB gender, race, age), per split then by name.
    attributes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: Subject-independent folds: each fold's size, class counts and subject ids.
    folds: list[dict[str, object]] = field(default_factory=list)
    #: FER+ label schemes other than majority: the training targets (N×K over the
    #: spec's classes, rows summing to 1) and the scheme; ``None`` with hard labels.
    soft_train: np.ndarray | None = None
    labels_mode: str = "majority"
    #: FER+ votes (``dataset.labels``): each validation and test face's vote distribution over
    #: the spec's classes (N×K, rows summing to 1), row for row with the split; empty otherwise.
    votes: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class RawData:
    """Everything decoded from a source before classes and splits are applied.

    This is what the cache stores, so one cache entry serves any class list, class
    map, split definition and seed. ``labels`` index ``label_names`` (the source's own
    names: FER2013 codes, folder names, AffectNet codes); ``groups`` index
    ``group_names`` (the source's named splits: "Training", "train", ...).
    """

    x: np.ndarray  # uint8 N×H×W×C
    labels: np.ndarray  # int16 N, into label_names
    groups: np.ndarray  # int16 N, into group_names
    hashes: np.ndarray  # uint64 N, exact-content hash of each decoded source image
    label_names: tuple[str, ...]
    group_names: tuple[str, ...]
    source: str
    #: Position of each sample in the source (CSV data row, file list index): FER+
    #: votes are aligned with FER2013 rows by it.
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    skipped: int = 0
    warnings: tuple[str, ...] = ()
    #: Samples the source lists, readable or not (FER2013: CSV data rows).
    total: int = 0
    #: Source label -> samples not decoded on purpose (e.g. AffectNet 8 none, 9 uncertain).
    dropped: dict[str, int] = field(default_factory=dict)
    #: With ``dataset.faces``: source split -> source label -> images read, and of them
    #: with one face, with none and with several (``images``, ``one``, ``none``, ``several``).
    faces: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    #: Subject id of each sample (CK+, JAFFE, KDEF), or empty where the source names none.
    subjects: np.ndarray = field(default_factory=lambda: np.zeros(0, str))
    #: Per-sample attributes the release annotates (RAF-DB: gender, race, age), by name.
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    #: FER+ label schemes other than majority: each face's target over the 8 FER+
    #: emotions (zero where only its majority label keeps it), and whether it has a
    #: majority label; empty otherwise.
    soft: np.ndarray = field(default_factory=lambda: np.zeros((0, 8), np.float32))
    majority_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    #: Each sample's name, stable across loads: ``<Usage>/<data row>`` for a FER2013 CSV
    #: (``PrivateTest/28710``), the path below the dataset folder for class folders and
    #: releases (RAF-DB: the label list's name, ``test_0001.jpg``), ``<split>/<index>`` for
    #: synthetic faces; a second face of one file gets ``#2``. Empty in caches written before names.
    names: np.ndarray = field(default_factory=lambda: np.zeros(0, str))
    #: FER+ votes of each face over the ten FER+ columns (``dataset.labels``); empty otherwise.
    votes: np.ndarray = field(default_factory=lambda: np.zeros((0, 10), np.float32))
    #: Per image, whether all its pixels have one value (counted per split without reading the images); empty: not known.
    blank: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


#: Decodes a detected source: ``progress`` -> (data, content digest, bad samples as ``(where, why)``).
Reader = Callable[[bool], tuple[RawData, str, list[tuple[str, str]]]]


@dataclass
class Source:
    """A detected layout: the files that make it up and how to decode them."""

    layout: Literal["csv", "folders", "official", "synthetic"]
    root: Path
    files: Sequence[str | Path]  # what the cache's stat key covers
    read: Reader
    warnings: list[str]
