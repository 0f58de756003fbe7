"""The baselines registry: published and human-level results to compare runs with.

The built-in entries live in ``ferbench/baselines.yaml``; users add their own in files
of the same shape (``ferbench report --baselines FILE``). Files are validated against
``schemas/baselines.schema.json`` with located errors, as specs are.

:func:`baseline_ids` and the registry's path come from :mod:`ferbench.baselines_registry`,
which the spec validator uses without importing this package.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ferbench.baselines_registry import BUILTIN, baseline_ids
from ferbench.errors import Located, SpecError

if TYPE_CHECKING:
    from ferbench.spec.yaml_loader import LocatedDoc

SCHEMA = "baselines.schema.json"

__all__ = ["BUILTIN", "Baseline", "Citation", "baseline_ids", "load_baselines", "select"]


@dataclass(frozen=True)
class Citation:
    """Where a number comes from."""

    authors: str
    title: str
    year: int
    venue: str | None = None
    arxiv: str | None = None
    url: str | None = None
    where: str | None = None

    def short(self) -> str:
        """``Khanzada et al. 2020 (arXiv:2004.11823)``-style reference."""
        names = [a.strip() for a in self.authors.split(",") if a.strip()]
        first = names[0].split()[-1] if names else self.authors
        who = first if len(names) == 1 else f"{first} & {names[1].split()[-1]}" if len(names) == 2 else f"{first} et al."
        ref = f"arXiv:{self.arxiv}" if self.arxiv else (self.where or self.url or "")
        return f"{who} {self.year}" + (f" ({ref})" if ref else "")

    @property
    def link(self) -> str | None:
        """A URL for the source, where one is known."""
        if self.url:
            return self.url
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else None


@dataclass(frozen=True)
class Baseline:
    """One published, human-level or reproduced result on one dataset and class set."""

    id: str
    name: str
    kind: Literal["human", "published", "reproduction"]
    dataset: str
    split: str
    num_classes: int
    accuracy: float
    citation: Citation
    accuracy_pm: float | None = None
    balanced_accuracy: float | None = None
    loss: float | None = None
    precision_macro: float | None = None
    recall_macro: float | None = None
    f1_macro: float | None = None
    params: int | None = None
    macs: int | None = None
    image_size: int | None = None
    #: Comparability, as the source states it; ``None`` where it does not say.
    color: str | None = None
    pretrained: str | bool | None = None  # what on (a name), False (from scratch), True (not said on what)
    extra_data: bool | None = None
    ensemble: bool | int | None = None  # False (one network), True or the number of networks
    tta: str | bool | None = None  # test-time augmentation behind the number, False for none
    note: str = ""
    source: str = "built-in"

    @property
    def is_human(self) -> bool:
        return self.kind == "human"

    @property
    def input_text(self) -> str | None:
        """``197 RGB``, ``48 gray``, ``224`` (colour not stated) or ``None``."""
        if self.image_size is None:
            return None
        return f"{self.image_size} {COLOR_TEXT[self.color]}" if self.color else str(self.image_size)

    @property
    def pretrained_text(self) -> str | None:
        return _said(self.pretrained, "yes (on what not stated)")

    @property
    def ensemble_text(self) -> str | None:
        if self.ensemble is None:
            return None
        if isinstance(self.ensemble, bool):
            return "ensemble" if self.ensemble else "single"
        return f"ensemble of {self.ensemble}"

    @property
    def tta_text(self) -> str | None:
        return _said(self.tta, "yes")

    def matches(self, dataset: str, num_classes: int) -> bool:
        """Whether this baseline is comparable with a run on ``dataset`` with ``num_classes``."""
        return self.dataset == dataset and self.num_classes == num_classes


#: How a colour is written in tables.
COLOR_TEXT = {"grayscale": "gray", "rgb": "RGB"}


def _said(value: str | bool | None, yes: str) -> str | None:
    """A stated value as a table cell: its name, ``no``, ``yes`` or ``None`` (not stated)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return yes if value else "no"
    return value


def _build(entry: dict[str, Any], source: str) -> Baseline:
    m = entry["metrics"]
    return Baseline(
        id=entry["id"],
        name=entry["name"],
        kind=entry["kind"],
        dataset=entry["dataset"],
        split=entry["split"],
        num_classes=int(entry["num_classes"]),
        accuracy=float(m["accuracy"]),
        accuracy_pm=m.get("accuracy_pm"),
        balanced_accuracy=m.get("balanced_accuracy"),
        loss=m.get("loss"),
        precision_macro=m.get("precision_macro"),
        recall_macro=m.get("recall_macro"),
        f1_macro=m.get("f1_macro"),
        params=entry.get("params"),
        macs=entry.get("macs"),
        image_size=entry.get("image_size"),
        color=entry.get("color"),
        pretrained=entry.get("pretrained"),
        extra_data=entry.get("extra_data"),
        ensemble=entry.get("ensemble"),
        tta=entry.get("tta"),
        citation=Citation(**entry["citation"]),
        note=entry.get("note", ""),
        source=source,
    )


def _semantic(doc: LocatedDoc, seen: dict[str, str], humans: dict[tuple[str, int], str]) -> list[Located]:
    """Rules the schema cannot state: unique ids across files, one human level per benchmark."""
    out: list[Located] = []
    for i, b in enumerate(doc.data["baselines"]):
        bid = b["id"]
        if bid in seen:
            out.append(doc.locate(("baselines", i, "id"), f"duplicate baseline id {bid!r} (already defined in {seen[bid]}); pick another id"))
        else:
            m = doc.mark_for(("baselines", i, "id"))
            seen[bid] = f"the built-in registry, line {m.line}" if Path(m.file) == BUILTIN else f"{m.file}:{m.line}"
        if b["kind"] == "human":
            key = (b["dataset"], b["num_classes"])
            if key in humans:
                why = f"a second human-level entry for {key[0]} with {key[1]} classes (the first is {humans[key]}); Δ to human needs one"
                out.append(doc.locate(("baselines", i, "kind"), why))
            else:
                humans[key] = bid
        pm = b["metrics"].get("accuracy_pm")
        if pm is not None and not (0 <= b["metrics"]["accuracy"] - pm and b["metrics"]["accuracy"] + pm <= 1):
            out.append(doc.locate(("baselines", i, "metrics", "accuracy_pm"), f"accuracy ± {pm} leaves [0, 1]"))
    return out


def _load_file(path: str | os.PathLike[str], seen: dict[str, str], humans: dict[tuple[str, int], str], source: str) -> tuple[list[Baseline], list[Located]]:
    from ferbench.spec.schema import schema_problems
    from ferbench.spec.yaml_loader import load_file

    try:
        doc = load_file(path)
    except SpecError as exc:
        return [], list(exc.problems)
    if doc.data is None:
        return [], [doc.locate((), "the file is empty; a baselines file holds ferbench_baselines: 1 and a baselines: list")]
    problems = schema_problems(doc, name=SCHEMA)
    if problems:
        return [], problems
    problems = _semantic(doc, seen, humans)
    return [_build(b, source) for b in doc.data["baselines"]], problems


def load_baselines(extra_files: Iterable[str | os.PathLike[str]] = ()) -> list[Baseline]:
    """The built-in baselines followed by those of ``extra_files``, all validated.

    Raises :class:`~ferbench.errors.SpecError` listing every located problem of every
    file (``file:line:col: baselines[3].metrics.accuracy: must be <= 1, got 65.8``).
    """
    seen: dict[str, str] = {}
    humans: dict[tuple[str, int], str] = {}
    out: list[Baseline] = []
    problems: list[Located] = []
    for path, source in [(BUILTIN, "built-in"), *((p, str(p)) for p in extra_files)]:
        entries, found = _load_file(path, seen, humans, source)
        out.extend(entries)
        problems.extend(found)
    if problems:
        raise SpecError(problems)
    return out


def select(baselines: Iterable[Baseline], dataset: str, num_classes: int) -> list[Baseline]:
    """Baselines comparable with a run on ``dataset`` with ``num_classes`` classes, in file order."""
    return [b for b in baselines if b.matches(dataset, num_classes)]
