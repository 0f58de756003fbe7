"""Runs and baselines grouped by benchmark for the comparison: one group per dataset and
number of classes, its matching baselines, the ones that get a Δ column, the paired tests
and the k-fold experiments among its runs; and what makes two test sets the same.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ferbench.data.kinds import DISPLAY_NAMES as DATASET_NAMES
from ferbench.report.analysis import PairTest, RunAnalysis, paired_tests
from ferbench.report.baselines import Baseline
from ferbench.report.model import MeanSD
from ferbench.spec.types import SPLIT_ALIASES, SPLIT_JOINS

_KIND_ORDER = {"human": 0, "published": 1, "reproduction": 2}

#: Benchmarks whose ``test`` means the union of their named test splits (FER2013: PublicTest + PrivateTest).
_JOINED = ("fer2013", "ferplus")


def group_title(dataset: str, num_classes: int) -> str:
    return f"{DATASET_NAMES.get(dataset, dataset)}, {num_classes} classes"


def canonical_test_set(split: object, dataset: str) -> frozenset[str] | None:
    """What a test set is, for comparing two of them: its source splits, aliases and joins resolved.

    ``PublicTest+PrivateTest`` and (on FER2013) ``test`` are one set; ``validation (500 per
    class)`` is ``validation``. A derived split (a dict) or an empty name is a set of its own: ``None``.
    """
    if not isinstance(split, str) or not split.strip():
        return None
    names: set[str] = set()
    for part in split.split("(")[0].split("+"):
        low = part.strip().lower()
        group = next((g for g in SPLIT_ALIASES if low in g), None)
        name = sorted(group)[0] if group else low
        joined = SPLIT_JOINS.get(low, ()) if dataset in _JOINED else ()
        names |= set(joined) if joined else {name}
    return frozenset(names)


@dataclass
class FoldGroup:
    """The runs of one k-fold experiment (one spec, matrix cell and number of folds)."""

    label: str
    folds: int
    runs: list[RunAnalysis]

    def mean(self, get: Callable[[RunAnalysis], float | None]) -> MeanSD | None:
        """Mean and sample standard deviation of ``get`` over the folds that have it."""
        values = [v for a in self.runs if (v := get(a)) is not None]
        if not values:
            return None
        sd = statistics.stdev(values) if len(values) > 1 else None
        return MeanSD(statistics.fmean(values), sd, len(values))

    @property
    def has_tta(self) -> bool:
        return any(a.tta is not None for a in self.runs)


@dataclass
class Group:
    """Runs and baselines of one (dataset, number of classes)."""

    dataset: str
    num_classes: int
    runs: list[RunAnalysis]
    baselines: list[Baseline]
    selected: list[Baseline] = field(default_factory=list)  # Δ columns, human first
    notes: list[str] = field(default_factory=list)
    pairs: list[PairTest] = field(default_factory=list)
    folds: list[FoldGroup] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"compare-{self.dataset}-{self.num_classes}"

    @property
    def human(self) -> Baseline | None:
        return next((b for b in self.baselines if b.is_human), None)

    def run_test_set(self, a: RunAnalysis) -> object:
        return a.run.info.dataset.splits.get("test")

    def differs(self, b: Baseline, a: RunAnalysis) -> bool:
        """Whether baseline ``b`` was measured on another test set than run ``a``."""
        mine = canonical_test_set(self.run_test_set(a), self.dataset)
        return mine is None or canonical_test_set(b.split, self.dataset) != mine


def fold_groups(runs: Sequence[RunAnalysis]) -> list[FoldGroup]:
    """The k-fold experiments among ``runs``: runs with a fold, grouped by spec, matrix cell and number of folds."""
    groups: dict[tuple[str, str, int], FoldGroup] = {}
    for a in runs:
        if a.fold is None or a.test is None:
            continue
        cell = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in a.run.info.matrix_cell.items())
        key = (a.run.spec_name, cell, a.fold[1])
        label = f"{a.run.spec_name}{f' [{cell}]' if cell else ''}"
        groups.setdefault(key, FoldGroup(label, a.fold[1], [])).runs.append(a)
    return list(groups.values())


def make_groups(analyses: Sequence[RunAnalysis], baselines: Sequence[Baseline], compare_with: Sequence[str] = ()) -> list[Group]:
    """Group runs by benchmark; pick the matching baselines and the ones that get a Δ column.

    Δ columns: human level, then every id named by a run's ``report.compare`` or by
    ``compare_with``, in that order. An id that names a baseline of another benchmark
    is explained in a note rather than silently dropped.
    """
    by_id = {b.id: b for b in baselines}
    keys = sorted({a.group for a in analyses})
    groups = []
    for ds, k in keys:
        runs = sorted((a for a in analyses if a.group == (ds, k)), key=lambda a: (a.run.label, a.run.run_id))
        matching = sorted((b for b in baselines if b.matches(ds, k)), key=lambda b: _KIND_ORDER.get(b.kind, 9))
        g = Group(ds, k, runs, matching)
        wanted = [*compare_with, *(i for a in runs for i in a.run.compare_ids)]
        chosen = [g.human] if g.human else []
        for bid in dict.fromkeys(wanted):
            b = by_id.get(bid)
            if b is None:
                g.notes.append(f"unknown baseline {bid!r} (see ferbench report --list-baselines)")
            elif not b.matches(ds, k):
                g.notes.append(f"baseline {bid!r} is on {group_title(b.dataset, b.num_classes)}; not comparable here")
            elif b not in chosen:
                chosen.append(b)
        g.selected = chosen
        g.pairs, pair_notes = paired_tests(runs)
        # A run scored without its saved predictions has no CI and no paired test: say so here too.
        g.notes += [n for a in runs for n in a.notes] + pair_notes
        g.folds = fold_groups(runs)
        for fg in g.folds:
            if len(fg.runs) < fg.folds:
                g.notes.append(f"{fg.label}: {len(fg.runs)} of {fg.folds} folds have a complete trial; the mean is over those")
        groups.append(g)
    return groups
