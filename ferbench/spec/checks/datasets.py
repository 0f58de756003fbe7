"""Checks of the dataset blocks: known classes, paths where a kind needs one, distinct splits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ferbench.data.kinds import KINDS
from ferbench.errors import Located
from ferbench.spec.checks.base import check, dataset_blocks
from ferbench.spec.types import (
    SPLIT_ALIASES,
    SPLIT_JOINS,
    SPLITS,
    split_overlap_fix,
)
from ferbench.spec.yaml_loader import LocatedDoc


@check
def classes_known(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Classes are unique and available from the dataset kind (the spec's dataset and every extra test set's)."""
    for at, ds in dataset_blocks(data):
        classes = ds.get("classes", [])
        seen: set[str] = set()
        for i, c in enumerate(classes):
            if c in seen:
                yield doc.locate(at + ("classes", i), f"class {c!r} is listed twice")
            seen.add(c)
        kind = KINDS.get(ds.get("kind", ""))
        if kind is None:  # the schema names the kinds
            continue
        relabelled = bool(ds.get("labels")) and kind.relabelled_classes is not None
        known = kind.known_classes(relabelled)
        for i, c in enumerate(classes):
            if c not in known:
                hint = ""
                if not relabelled and kind.relabelled_classes is not None and c in kind.relabelled_classes:
                    hint = f"; {c} needs FER+ labels (dataset.labels)"
                yield doc.locate(at + ("classes", i), f"class {c!r} does not exist in {kind.name} (it has {', '.join(known)}){hint}")


@check
def dataset_path_needed(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Every source but the built-in synthetic faces needs a path; FER+ labels only for FER2013."""
    for at, ds in dataset_blocks(data):
        kind = KINDS.get(ds.get("kind", ""))
        if kind is None:  # the schema names the kinds
            continue
        if kind.needs_path and not ds.get("path"):
            yield doc.locate(at, f"missing required key 'path' for kind {kind.name} (a file or folder; ${{FERBENCH_DATA}}/... works)")
        if ds.get("labels") and kind.relabelled_classes is None:
            takers = ", ".join(k.name for k in KINDS.values() if k.relabelled_classes is not None)
            yield doc.locate(at + ("labels",), f"FER+ labels (labels) apply to kind {takers} only")
        if ds.get("labels_mode", "majority") != "majority" and not ds.get("labels"):
            yield doc.locate(at + ("labels_mode",), "labels_mode applies to FER+ votes; set dataset.labels to fer2013new.csv", key=True)


def _source_splits(ref: str) -> set[str]:
    """The source splits a named split can mean, lower case, aliases and joins included."""
    out: set[str] = set()
    for part in ref.split("+"):
        low = part.strip().lower()
        names = next((set(g) for g in SPLIT_ALIASES if low in g), {low})
        out |= names
        for name in names:
            out |= set(SPLIT_JOINS.get(name, ()))
    return out


@check
def splits_distinct(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Two named splits never mean the same source split (loading refuses shared samples too).

    Validation equal to test would choose the best trial on the data it is scored on.
    """
    for at, ds in dataset_blocks(data):
        splits = ds.get("splits") or {}
        named = [(k, splits[k]) for k in SPLITS if isinstance(splits.get(k), str)]
        for i, (a, ra) in enumerate(named):
            for b, rb in named[i + 1 :]:
                if not _source_splits(ra) & _source_splits(rb):
                    continue
                where = "validation" if "validation" in (a, b) else b
                same = f"are the same split ({ra!r})" if ra.strip().lower() == rb.strip().lower() else f"overlap ({ra!r} and {rb!r})"
                yield doc.locate(at + ("splits", where), f"{a} and {b} {same}: {split_overlap_fix(a, b)}")
        for name, s in splits.items():
            if isinstance(s, dict) and s.get("from") == name:
                yield doc.locate(at + ("splits", name, "from"), f"split {name} cannot be derived from itself")


#: The kinds whose releases ship face boxes (``dataset.faces.detector: boxes``).
SHIPS_BOXES = ("affectnet", "expw", "rafdb")


@check
def faces_fit_the_dataset(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """``dataset.faces`` only where there are photos, ``boxes`` only where a dataset gives boxes, ``eyes`` only with landmarks."""
    for at, ds in dataset_blocks(data):
        faces = ds.get("faces")
        if not isinstance(faces, dict):
            continue
        kind, layout, detector = ds.get("kind"), ds.get("layout", "auto"), faces.get("detector")
        if kind == "synthetic" or (kind == "fer2013" and layout == "csv"):
            yield doc.locate(at + ("faces",), f"{kind} images are face crops already; remove dataset.faces")
        if detector == "boxes" and kind not in SHIPS_BOXES:
            yield doc.locate(at + ("faces", "detector"), f"boxes uses the face boxes a dataset ships, and {kind} ships none; use haar or mtcnn")
        if detector == "haar" and faces.get("align") == "eyes":
            yield doc.locate(at + ("faces", "align"), "haar finds no eyes to align by; use detector: mtcnn, or align: none")
        if detector == "boxes" and kind == "expw" and faces.get("align") == "eyes":
            yield doc.locate(at + ("faces", "align"), "ExpW's label.lst gives boxes without landmarks, so no eyes to align by; "
                             "use detector: mtcnn, or align: none")
