"""Seed-level statistics of a comparison: runs that differ only by ``seeds:`` are one experiment,
shown as mean ± sd with a t interval, and two experiments run over the same seeds get a
paired test over seeds, with a sentence on whether their difference exceeds seed noise.
The numbers come from :mod:`ferbench.results.metrics` (``seed_summary``, ``paired_seed_test``)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ferbench.report.analysis import RunAnalysis
from ferbench.report.model import Column, MeanSD, Table, raw
from ferbench.report.stats import ALPHA
from ferbench.results.metrics import SeedTest, paired_seed_test, seed_summary

#: The metric the seed tables summarise and test (test split of the best trial).
SEED_METRIC = "accuracy"


@dataclass
class SeedGroup:
    """The runs of one spec and matrix cell (no folds) over several seeds."""

    label: str
    runs: list[RunAnalysis]

    def values(self, get: Callable[[RunAnalysis], float | None] = lambda a: None if a.test is None else a.test.accuracy.value,
               ) -> dict[int, float]:
        return {a.run.info.seed: v for a in self.runs if (v := get(a)) is not None}


def seed_groups(runs: Sequence[RunAnalysis]) -> list[SeedGroup]:
    """Experiments among ``runs`` with at least two seeds: same spec and matrix cell, no fold."""
    groups: dict[tuple[str, str], SeedGroup] = {}
    for a in runs:
        if a.fold is not None or a.test is None:
            continue
        cell = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in a.run.info.matrix_cell.items())
        label = f"{a.run.spec_name}{f' [{cell}]' if cell else ''}"
        groups.setdefault((a.run.spec_name, cell), SeedGroup(label, [])).runs.append(a)
    return [g for g in groups.values() if len({a.run.info.seed for a in g.runs}) >= 2]


def _mean_sd(values: dict[int, float]) -> MeanSD:
    s = seed_summary(list(values.values()))
    return MeanSD(s.mean, s.sd, len(values))


def seeds_table(key: str, title: str, groups: Sequence[SeedGroup]) -> Table | None:
    """One row per experiment over seeds: accuracy per seed, mean ± sd and a t interval of the mean."""
    if not groups:
        return None
    t = Table(f"{key}-seeds", f"Over seeds: {title}", [
        Column("experiment", "Experiment"), Column("seeds", "Seeds", "int"), Column("per_seed", "Accuracy % per seed"),
        Column("accuracy", "Accuracy % (mean ± sd)", "pct"), Column("interval", "95% t interval of the mean (%)"),
        Column("f1", "F1 (macro, mean ± sd)", "frac"), Column("balanced", "Balanced accuracy (mean ± sd)", "frac")])
    for g in groups:
        acc = g.values()
        s = seed_summary(list(acc.values()))
        t.rows.append({
            "experiment": g.label, "seeds": len(acc), "per_seed": ", ".join(f"{k}: {100 * v:.2f}" for k, v in sorted(acc.items())),
            "accuracy": _mean_sd(acc), "interval": f"[{100 * s.low:.2f}, {100 * s.high:.2f}]",
            "f1": _mean_sd(g.values(lambda a: None if a.test is None else a.test.f1_macro.value)),
            "balanced": _mean_sd(g.values(lambda a: None if a.test is None else a.test.balanced_accuracy.value)),
        })
    t.notes.append("Runs that differ only by their seed; sample standard deviation (n - 1) over seeds, "
                   "Student-t 95% interval of the mean.")
    return t


def seed_tests(groups: Sequence[SeedGroup]) -> list[tuple[SeedGroup, SeedGroup, SeedTest]]:
    """A paired test over seeds for every two experiments sharing at least two seeds."""
    out = []
    for a, b in itertools.combinations(groups, 2):
        test = paired_seed_test(a.values(), b.values())
        if len(test.seeds) >= 2:
            out.append((a, b, test))
    return out


def seed_tests_table(key: str, title: str, groups: Sequence[SeedGroup]) -> Table | None:
    """Paired t-tests over seeds (B − A), each with its verdict in words."""
    tests = seed_tests(groups)
    if not tests:
        return None
    t = Table(f"{key}-seed-tests", f"Paired tests over seeds: {title}", [
        Column("a", "Experiment A"), Column("b", "Experiment B"), Column("seeds", "Shared seeds", "int"),
        Column("delta", "Mean Δ B−A (pp)", "delta"), Column("sd", "sd of Δ (pp)", "delta"), Column("p", "p (paired t)", "pvalue"),
        Column("beyond_noise", f"Beyond seed noise (α={ALPHA})", "bool")])
    for a, b, s in tests:
        t.rows.append({"a": a.label, "b": b.label, "seeds": len(s.seeds), "delta": s.mean_difference, "sd": s.sd_difference,
                       "p": s.p_value, "beyond_noise": s.p_value < ALPHA})
        t.notes.append(s.sentence("test accuracy", a.label, b.label, ALPHA))
    t.notes.append("Paired over seeds: each seed's accuracy difference, tested against zero (two-sided Student t); "
                   "the per-image McNemar tests between single runs are in the paired-tests table.")
    return t


def seeds_data(groups: Sequence[SeedGroup]) -> dict[str, Any]:
    """Machine-readable seed statistics for the JSON report."""
    return {
        "experiments": [{"experiment": g.label, "accuracy": {str(k): v for k, v in sorted(g.values().items())},
                         **{k: raw(v) for k, v in vars(seed_summary(list(g.values().values()))).items() if k != "values"}}
                        for g in groups],
        "tests": [{"a": a.label, "b": b.label, "seeds": list(s.seeds), "differences": list(s.differences),
                   "mean_difference": s.mean_difference, "sd_difference": raw(s.sd_difference), "p_value": raw(s.p_value),
                   "beyond_noise": s.p_value < ALPHA, "sentence": s.sentence("test accuracy", a.label, b.label, ALPHA)}
                  for a, b, s in seed_tests(groups)],
    }
