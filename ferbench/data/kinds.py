"""Dataset kinds, one row each: everything ferbench knows about a ``dataset.kind``.

A row gives the kind's name (as written in a spec) and display name, its layouts in
the order detection tries them (each with the cheap look that recognises it and the
default splits a spec gets when it finds that layout), the classes the kind can
provide (with FER+ labels too, where those apply), the class of each digit folder
name (FER2013 and AffectNet number their classes differently) and whether it needs
``dataset.path``. Its readers are:

- the spec checks (classes a kind provides, ``dataset.path`` and ``dataset.labels``),
- the spec defaults (``dataset.splits`` per layout, :func:`default_splits`),
- layout detection (:data:`ferbench.data.layout.LAYOUTS`, the names of the sources it finds),
- label mapping (:data:`ferbench.data.classes.DIGITS`),
- the report (:data:`DISPLAY_NAMES`, which also names benchmarks that are not kinds).

Nothing here opens a file, decodes data or imports numpy or TensorFlow, so validating
a spec stays fast.

Adding a kind (RAF-DB, CK+, ...) touches:

- this file: one row in :data:`KINDS` (and its name out of :data:`BENCHMARK_NAMES`
  if it is listed there);
- ``schemas/spec.schema.json``: the name in the ``dataset.kind`` enum, which stays the
  one truth of the spec language (``tests/data/test_kinds.py`` checks that it equals
  this table), and a new layout's name in the ``dataset.layout`` enum;
- its loader, only where it has a layout of its own: the look that recognises it in
  ``ferbench/data/probe.py`` and a module in ``ferbench/data/layouts/`` that lists its
  faces, named by the layout row's ``lister`` (RAF-DB, ExpW, CK+, JAFFE, KDEF; a kind
  that ships as class folders reuses :data:`CLASS_FOLDERS` and needs none of these);
- ``docs/data.md`` (the table of kinds and layouts), and optionally a template in
  ``ferbench/templates/``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from ferbench.data import probe
from ferbench.spec.types import CLASS_VOCABULARY, FER2013_CLASSES, SPLITS

#: AffectNet ``expression`` codes 0-7 (8 none, 9 uncertain, 10 non-face are not classes).
AFFECTNET_CLASSES: tuple[str, ...] = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")

#: A default split in the spec's own form: a named split, or ``{from, fraction, stratified}``.
SplitDefault = str | Mapping[str, Any]

#: Validation carved out of train: 10%, per class.
CARVED: Mapping[str, Any] = MappingProxyType({"from": "train", "fraction": 0.1, "stratified": True})


@dataclass(frozen=True)
class Layout:
    """One way a kind's files can be laid out on disk."""

    name: Literal["csv", "official", "folders", "builtin"]  # what dataset.layout calls it
    title: str  # what ferbench calls what it found, e.g. "FER2013 Kaggle CSV"
    looks_for: str  # what detection looks for, for "not found" messages
    found: Callable[[Path], bool]  # a cheap look at dataset.path: names and file types only
    splits: Mapping[str, SplitDefault]  # the default of each spec split
    #: The reader of a release in :data:`ferbench.data.layouts.LISTERS`; ``None``: read by
    #: the csv, official AffectNet or class-folder readers.
    lister: str | None = None

    def __post_init__(self) -> None:
        if tuple(self.splits) != SPLITS:
            raise ValueError(f"layout {self.name}: default splits must be given for {', '.join(SPLITS)} in that order")


@dataclass(frozen=True)
class Kind:
    """One ``dataset.kind``."""

    name: str
    display: str  # in reports and messages
    layouts: tuple[Layout, ...]  # in the order detection tries them
    classes: tuple[str, ...]  # the classes it can provide
    #: The classes it can provide with ``dataset.labels`` (FER+ votes); ``None``: labels do not apply.
    relabelled_classes: tuple[str, ...] | None
    #: Class of each digit folder name (``0/``, ``1/``, ...); ``None``: digits name no class.
    digits: tuple[str, ...] | None
    needs_path: bool
    #: The digit of the first class folder: RAF-DB's folder copies count from 1.
    digit_base: int = 0
    #: Whether each image carries its subject (subject-independent folds need it).
    subjects: bool = False

    @property
    def layout_names(self) -> tuple[str, ...]:
        return tuple(layout.name for layout in self.layouts)

    def layout(self, name: str) -> Layout | None:
        """The layout called ``name``, or ``None`` when the kind has no such layout."""
        return next((layout for layout in self.layouts if layout.name == name), None)

    def known_classes(self, relabelled: bool) -> tuple[str, ...]:
        """The classes a spec may ask for; ``relabelled`` when it gives ``dataset.labels``."""
        if relabelled and self.relabelled_classes is not None:
            return self.relabelled_classes
        return self.classes


def class_folders(title: str) -> Layout:
    """The class-folder layout (``<split>/<class>/*.jpg`` or ``<class>/*.jpg``) of a kind."""
    return Layout(
        "folders", title, "class folders (train/<class>/*.jpg)", probe.class_folders,
        MappingProxyType({"train": "train", "validation": CARVED, "test": "test"}),
    )


#: The class-folder layout of a kind that only ships as image folders.
CLASS_FOLDERS = class_folders("image class folders")

FER2013_CSV = Layout(
    "csv", "FER2013 Kaggle CSV", f"a FER2013 CSV ({', '.join(probe.CSV_NAMES[:3])})",
    lambda path: probe.fer2013_csv(path) is not None,
    # The usual protocol: validate on PublicTest, test on PrivateTest (the thesis's specs).
    MappingProxyType({"train": "Training", "validation": "PublicTest", "test": "PrivateTest"}),
)

AFFECTNET_OFFICIAL = Layout(
    "official", "AffectNet official release",
    "the AffectNet release (Manually_Annotated_Images/ with training.csv, validation.csv)",
    lambda path: probe.affectnet_release(path) is not None,
    # AffectNet's validation list is its test set by convention.
    MappingProxyType({"train": "train", "validation": CARVED, "test": "validation"}),
)

#: Validation and test carved out of a release that has no splits (ExpW, CK+, JAFFE, KDEF).
ONE_GROUP: Mapping[str, SplitDefault] = MappingProxyType({
    "train": "all",
    "validation": CARVED,
    "test": MappingProxyType({"from": "train", "fraction": 0.2, "stratified": True}),
})

#: RAF-DB's labels 1..7 (folder copies name their class folders by these digits).
RAFDB_CLASSES: tuple[str, ...] = ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")

RAFDB_BASIC = Layout(
    "official", "RAF-DB basic", f"the RAF-DB release (basic/{probe.RAFDB_LABELS}, basic/Image/aligned/)",
    lambda path: probe.rafdb_release(path) is not None,
    MappingProxyType({"train": "train", "validation": CARVED, "test": "test"}), lister="rafdb",
)


def release(title: str, looks_for: str, found: Callable[[Path], object], lister: str) -> Layout:
    """The layout of a release without splits, read by ``lister``."""
    return Layout("official", title, looks_for, lambda path: found(path) is not None, ONE_GROUP, lister=lister)


BUILTIN = Layout(
    "builtin", "built-in synthetic faces", "nothing (drawn in memory)", lambda path: True,
    MappingProxyType({"train": "train", "validation": "validation", "test": "test"}),
)

KINDS: Mapping[str, Kind] = MappingProxyType({k.name: k for k in (
    Kind(
        "fer2013", "FER2013", (FER2013_CSV, class_folders("FER2013 class folders")),
        classes=FER2013_CLASSES, relabelled_classes=CLASS_VOCABULARY, digits=FER2013_CLASSES, needs_path=True,
    ),
    Kind(
        "affectnet", "AffectNet",
        (AFFECTNET_OFFICIAL, Layout(
            "folders", "AffectNet class folders", "class folders (train/<class>/, val/<class>/)", probe.class_folders,
            AFFECTNET_OFFICIAL.splits,  # the folder copies' val/ is the official validation list
        )),
        classes=CLASS_VOCABULARY, relabelled_classes=None, digits=AFFECTNET_CLASSES, needs_path=True,
    ),
    Kind("folder", "image folders", (CLASS_FOLDERS,), classes=CLASS_VOCABULARY, relabelled_classes=None, digits=None, needs_path=True),
    Kind("synthetic", "synthetic", (BUILTIN,), classes=CLASS_VOCABULARY, relabelled_classes=None, digits=None, needs_path=False),
    Kind(
        "rafdb", "RAF-DB", (RAFDB_BASIC, class_folders("RAF-DB class folders")),
        classes=FER2013_CLASSES, relabelled_classes=None, digits=RAFDB_CLASSES, needs_path=True, digit_base=1,
    ),
    Kind(
        "expw", "ExpW", (release("ExpW", "the ExpW release (label/label.lst, image/origin/)", probe.expw_release, "expw"),),
        classes=FER2013_CLASSES, relabelled_classes=None, digits=None, needs_path=True,
    ),
    Kind(
        "ckplus", "CK+", (release("CK+", "the CK+ release (cohn-kanade-images/, Emotion/)", probe.ckplus_release, "ckplus"),),
        classes=CLASS_VOCABULARY, relabelled_classes=None, digits=None, needs_path=True, subjects=True,
    ),
    Kind(
        "jaffe", "JAFFE", (release("JAFFE", "JAFFE's KA.AN1.39.tiff files", probe.jaffe_release, "jaffe"),),
        classes=FER2013_CLASSES, relabelled_classes=None, digits=None, needs_path=True, subjects=True,
    ),
    Kind(
        "kdef", "KDEF", (release("KDEF", "KDEF's AF01/AF01ANS.JPG folders", probe.kdef_release, "kdef"),),
        classes=FER2013_CLASSES, relabelled_classes=None, digits=None, needs_path=True, subjects=True,
    ),
)})

#: Display names of benchmarks that are not (yet) kinds: FER2013 with FER+ labels, and
#: published results on datasets ferbench does not load.
BENCHMARK_NAMES: Mapping[str, str] = MappingProxyType({"ferplus": "FER+"})

#: Display name of every kind and benchmark.
DISPLAY_NAMES: Mapping[str, str] = MappingProxyType({**{k.name: k.display for k in KINDS.values()}, **BENCHMARK_NAMES})


@dataclass(frozen=True)
class Choice:
    """The layout whose default splits a spec gets, and why that one."""

    layout: Layout
    reason: str  # follows the layout's title: "found at /data/fer2013", "(dataset.layout: csv)"

    def __str__(self) -> str:
        return f"{self.layout.title} {self.reason}"


def choose_layout(kind: Kind, path: str | None, forced: str = "auto") -> Choice:
    """The layout a spec's dataset will be loaded as, by a cheap look at ``path``.

    ``forced`` is ``dataset.layout``. Detection tries the layouts in the same order
    (see :func:`ferbench.data.layout.detect`). Where ``path`` does not exist (a spec
    validated away from its data) or holds none of them, the kind's first layout.
    """
    first = kind.layouts[0]
    if forced != "auto" and (layout := kind.layout(forced)) is not None:
        return Choice(layout, f"(dataset.layout: {forced})")
    if len(kind.layouts) == 1:
        return Choice(first, f"(the only layout of {kind.name})")
    if not path:
        return Choice(first, f"(dataset.path is not set: the first layout of {kind.name})")
    where = probe.expand(path)
    if not where.exists():
        return Choice(first, f"({path} does not exist here: the first layout of {kind.name})")
    for layout in kind.layouts:
        if layout.found(where):
            return Choice(layout, f"found at {path}")
    return Choice(first, f"(none found at {path}: the first layout of {kind.name})")


def default_splits(layout: Layout) -> dict[str, Any]:
    """A layout's default splits as fresh spec data (safe to change)."""
    return {k: v if isinstance(v, str) else copy.deepcopy(dict(v)) for k, v in layout.splits.items()}


def describe_split(value: SplitDefault) -> str:
    """A split as the notes write it: ``Training``, ``10% of train (stratified)``."""
    if isinstance(value, str):
        return value
    stratified = " (stratified)" if value.get("stratified", True) else ""
    return f"{float(value['fraction']) * 100:g}% of {value['from']}{stratified}"
