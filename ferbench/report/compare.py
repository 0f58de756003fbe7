"""The comparison across runs and baselines (thesis Tables 5.8/5.9, and more).

One section per benchmark and class count: every run's best trial next to the
baselines of the same dataset and number of classes, with 95% CIs, cost, Δ to human
level and to the baselines the specs select, then the paired McNemar tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ferbench.data.kinds import DISPLAY_NAMES as DATASET_NAMES
from ferbench.report.analysis import PairTest, RunAnalysis, paired_tests
from ferbench.report.baselines import Baseline
from ferbench.report.model import Column, Section, Table, raw
from ferbench.report.stats import ALPHA

_KIND_ORDER = {"human": 0, "published": 1, "reproduction": 2}


def group_title(dataset: str, num_classes: int) -> str:
    return f"{DATASET_NAMES.get(dataset, dataset)}, {num_classes} classes"


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

    @property
    def key(self) -> str:
        return f"compare-{self.dataset}-{self.num_classes}"

    @property
    def human(self) -> Baseline | None:
        return next((b for b in self.baselines if b.is_human), None)


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
        groups.append(g)
    return groups


def _delta_key(b: Baseline) -> str:
    return f"delta_{b.id}"


def compare_table(g: Group) -> Table:
    """Runs and baselines side by side."""
    cols = [
        Column("model", "Model"),
        Column("source", "Source"),
        Column("test_set", "Test set"),
        Column("accuracy", "Accuracy % [95% CI]", "pct"),
        Column("precision", "Precision", "frac"),
        Column("recall", "Recall", "frac"),
        Column("f1", "F1 [95% CI]", "frac"),
        Column("params", "Params", "count"),
        Column("macs", "MACs", "count"),
        Column("train_time", "Train time", "duration"),
    ] + [Column(_delta_key(b), f"Δ {b.name} (pp)", "delta") for b in g.selected]
    t = Table(f"{g.key}-table", f"Comparison on {group_title(g.dataset, g.num_classes)}", cols, stack={"model": "source"})

    def deltas(row_id: str, acc: float) -> dict[str, Any]:
        return {_delta_key(b): None if b.id == row_id else acc - b.accuracy for b in g.selected}

    for b in g.baselines:
        row = {
            "id": b.id, "kind": b.kind, "model": b.name, "source": b.citation.short(), "test_set": b.split,
            "accuracy": b.accuracy, "precision": b.precision_macro, "recall": b.recall_macro, "f1": b.f1_macro,
            "params": b.params, "macs": b.macs, "train_time": None,
        }
        row.update(deltas(b.id, b.accuracy))
        t.rows.append(row)
        if b.accuracy_pm is not None:
            t.notes.append(f"{b.name}: {100 * b.accuracy:.0f} ± {100 * b.accuracy_pm:.0f}% as stated by {b.citation.short()}.")
    for a in g.runs:
        if a.test is None or a.best is None:
            continue
        split = a.run.info.dataset.splits.get("test")
        s = a.test
        row = {
            "id": a.run.run_id, "kind": "run", "model": a.run.label, "source": f"run {a.run.run_id}",
            "test_set": f"{split if isinstance(split, str) else 'test'} (n={s.n})",
            "accuracy": s.accuracy, "precision": s.precision_macro, "recall": s.recall_macro, "f1": s.f1_macro,
            "params": a.best.cost.params, "macs": a.best.cost.macs, "train_time": a.best.timings.train_s,
        }
        row.update(deltas(a.run.run_id, s.accuracy.value))
        t.rows.append(row)
    if g.baselines:
        t.notes.append("Baseline numbers are as published (not re-computed); Δ is in percentage points of accuracy; train time is the best trial's.")
    else:
        t.notes.append(f"No baseline in the registry for {group_title(g.dataset, g.num_classes)}; add one with --baselines FILE. "
                       "Train time is the best trial's.")
    return t


def pairs_table(g: Group) -> Table | None:
    """Exact McNemar tests between runs scored on the same test samples."""
    if not g.pairs:
        return None
    t = Table(
        f"{g.key}-pairs",
        f"Paired tests on {group_title(g.dataset, g.num_classes)} (exact McNemar)",
        [
            Column("a", "Run A"), Column("b", "Run B"), Column("n", "n", "int"),
            Column("acc_a", "Acc A %", "pct"), Column("acc_b", "Acc B %", "pct"), Column("delta", "Δ A−B (pp)", "delta"),
            Column("a_only", "Only A right", "int"), Column("b_only", "Only B right", "int"),
            Column("p", "p", "pvalue"), Column("p_holm", "p (Holm)", "pvalue"), Column("significant", f"Significant (α={ALPHA})", "bool"),
        ],
    )
    for p in g.pairs:
        assert p.a.test is not None and p.b.test is not None
        acc_a, acc_b = p.a.test.accuracy.value, p.b.test.accuracy.value
        t.rows.append({
            "a": p.a.run.label, "b": p.b.run.label, "n": p.test.n, "acc_a": acc_a, "acc_b": acc_b, "delta": acc_a - acc_b,
            "a_only": p.test.a_only, "b_only": p.test.b_only, "p": p.test.p_value, "p_holm": p.p_holm, "significant": p.p_holm < ALPHA,
        })
    t.notes.append("Two-sided exact binomial McNemar test on the samples where exactly one run is right; "
                   "significance uses the Holm-adjusted p over the pairs in this table.")
    return t


def compare_section(g: Group) -> Section:
    sec = Section(g.key, f"Comparison: {group_title(g.dataset, g.num_classes)}", notes=list(g.notes))
    sec.tables.append(compare_table(g))
    pt = pairs_table(g)
    if pt is not None:
        sec.tables.append(pt)
    return sec


def group_data(g: Group) -> dict[str, Any]:
    """Machine-readable comparison for the JSON report."""
    t = compare_table(g)
    return {
        "dataset": g.dataset,
        "num_classes": g.num_classes,
        "selected_baselines": [b.id for b in g.selected],
        "rows": [{k: raw(v) for k, v in r.items()} for r in t.rows],
        "pairs": [
            {"a": p.a.run.run_id, "b": p.b.run.run_id, "n": p.test.n, "a_only": p.test.a_only, "b_only": p.test.b_only,
             "p_value": p.test.p_value, "p_holm": p.p_holm, "significant": p.p_holm < ALPHA}
            for p in g.pairs
        ],
        "notes": g.notes,
    }
