"""The efficiency frontier: accuracy against parameters, MACs and latency, as tables.

A comparison section gets one table of what each run offers — its Pareto set (a run
with several objectives) or its best trial — with the trial's exported variants
(``ferbench export``: TFLite, SavedModel) as rows of their own, and the baselines that
publish a parameter count. Each row says its size, cost and latency (batch 1, median,
and where it was measured) and its test accuracy; the rows no other row beats on
accuracy with fewer parameters (or less latency) are marked: the frontier. A run with
several objectives gets, in its own section, its Pareto set with every objective.

Choosing was done on validation; test numbers here are for reading, as everywhere in
the report. Everything comes from the records on disk (no TensorFlow).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ferbench.report.analysis import RunAnalysis
from ferbench.report.baselines import Baseline
from ferbench.report.compare import unfinished_mark
from ferbench.report.model import Column, Table
from ferbench.results import TrialRecord
from ferbench.results.pareto import pareto_front

#: The x axes of the frontier: record key, axis label, table label.
AXES: dict[str, tuple[str, str]] = {
    "params": ("Parameters", "Params"),
    "macs": ("MACs per image", "MACs"),
    "latency_ms": ("Latency at batch 1 (ms, median)", "Latency b=1 (ms)"),
}


@dataclass(frozen=True)
class FrontRow:
    """One model on the frontier: a run's trial, an exported variant of it, or a published baseline."""

    label: str
    kind: Literal["trial", "export", "baseline"]
    accuracy: float
    params: int | None = None
    macs: int | None = None
    latency_ms: float | None = None
    measured_on: str | None = None  # where the latency was measured, and through what
    f1_macro: float | None = None
    tta_accuracy: float | None = None
    variant: str = "Keras"  # "Keras", an export format (results.exports.EXPORT_FORMATS) or "published"
    source: str = ""
    test_set: str = ""
    series: int = -1  # the run it belongs to (its index in the group), -1 for a baseline
    trial: int | None = None

    def value(self, axis: str) -> float | None:
        v = getattr(self, axis)
        return None if v is None else float(v)


def _test_scores(a: RunAnalysis, t: TrialRecord) -> tuple[float, float | None]:
    """``(accuracy, F1)`` on test as every table of the report shows them: from the saved predictions where
    they exist (the comparison's numbers, see :mod:`ferbench.report.analysis`), else the record's."""
    from ferbench.report.stats import scores_from_predictions

    assert t.test is not None
    if a.best is not None and a.test is not None and t.trial == a.best.trial:
        scores = a.test
    elif a.run.has_predictions(t):
        pred = a.run.predictions(t)
        scores = scores_from_predictions(pred.test_y_true, pred.test_y_prob, a.run.classes, resamples=0)
    else:
        return t.test.accuracy, t.test.f1_macro
    return scores.accuracy.value, scores.f1_macro.value


def _trial_row(a: RunAnalysis, t: TrialRecord, series: int, label: str) -> FrontRow:
    assert t.test is not None
    lat = t.latency
    test_set = a.run.info.dataset.splits.get("test")
    accuracy, f1 = _test_scores(a, t)
    return FrontRow(
        label=label, kind="trial", accuracy=accuracy, params=t.cost.params, macs=t.cost.macs,
        latency_ms=t.latency_ms, measured_on=None if lat is None else f"{lat.where}, {lat.runtime}",
        f1_macro=f1, tta_accuracy=None if t.tta is None else t.tta.test.accuracy,
        source=f"run {a.run.run_id}, trial {t.trial}", test_set=test_set if isinstance(test_set, str) else "test",
        series=series, trial=t.trial,
    )


def run_rows(a: RunAnalysis, series: int) -> list[FrontRow]:
    """What a run offers (its Pareto set, or its best trial) and every exported variant of those trials."""
    front = [t for t in a.run.front if t.test is not None]
    several = len(front) > 1 or a.run.info.pareto is not None
    rows: list[FrontRow] = []
    for t in front:
        label = (f"{a.run.label} (trial {t.trial})" if several else a.run.label) + unfinished_mark(a.run.info)
        base = _trial_row(a, t, series, label)
        rows.append(base)
        for e in a.run.exports(t):
            lat = e.latency
            rows.append(FrontRow(
                label=f"{label} {e.format}", kind="export", accuracy=e.test.accuracy, params=t.cost.params, macs=t.cost.macs,
                latency_ms=lat.batch_1_ms, measured_on=f"{lat.where}, {lat.runtime}", f1_macro=e.test.f1_macro,
                tta_accuracy=None if e.tta_test is None else e.tta_test.accuracy, variant=e.format,
                source=f"{base.source}, exported", test_set=base.test_set, series=series, trial=t.trial,
            ))
    return rows


def baseline_rows(baselines: Sequence[Baseline]) -> list[FrontRow]:
    """Baselines that publish a parameter count (the others cannot be placed on the frontier)."""
    return [FrontRow(label=b.name, kind="baseline", accuracy=b.accuracy, params=b.params, macs=b.macs, f1_macro=b.f1_macro,
                     variant="published", source=b.citation.short(), test_set=b.split) for b in baselines if b.params]


def frontier_rows(runs: Sequence[RunAnalysis], baselines: Sequence[Baseline]) -> list[FrontRow]:
    """Every run's rows, then the baselines with a size, smallest first."""
    rows = [r for i, a in enumerate(runs) for r in run_rows(a, i)] + baseline_rows(baselines)
    return sorted(rows, key=lambda r: (r.params is None, r.params or 0, -r.accuracy))


def on_front(rows: Sequence[FrontRow], axis: str) -> set[int]:
    """Indices of the rows no other row beats: at least as accurate with no more of ``axis``, better on one."""
    points = [(i, [r.value(axis) or 0.0, r.accuracy]) for i, r in enumerate(rows) if r.value(axis) is not None]
    return set(pareto_front(points, ["minimize", "maximize"]))


def has_frontier(runs: Sequence[RunAnalysis]) -> bool:
    """Whether any run carries what the frontier adds: a Pareto set, a measured latency or an export."""
    for a in runs:
        if a.run.info.pareto is not None:
            return True
        for t in a.run.front:
            if t.latency is not None or a.run.exports(t):
                return True
    return False


def frontier_table(key: str, title: str, rows: Sequence[FrontRow]) -> Table:
    """The frontier as a table: size, cost, latency and accuracy of each model, the front marked."""
    params_front, latency_front = on_front(rows, "params"), on_front(rows, "latency_ms")
    cols = [Column("model", "Model"), Column("variant", "Variant"), Column("source", "Source"), Column("test_set", "Test set"),
            Column("params", "Params", "count"), Column("macs", "MACs", "count"), Column("latency_ms", "Latency b=1 (ms)", "num"),
            Column("accuracy", "Accuracy %", "pct"), Column("f1", "F1 (macro)", "frac")]
    if any(r.tta_accuracy is not None for r in rows):
        cols.append(Column("tta_accuracy", "Accuracy with TTA %", "pct"))
    cols += [Column("front_params", "Front: params", "bool"), Column("front_latency", "Front: latency", "bool"),
             Column("measured_on", "Latency measured on")]
    t = Table(key, title, cols, stack={"model": "source"})
    for i, r in enumerate(rows):
        t.rows.append({
            "model": r.label, "variant": r.variant, "source": r.source, "test_set": r.test_set, "params": r.params, "macs": r.macs,
            "latency_ms": r.latency_ms, "accuracy": r.accuracy, "f1": r.f1_macro, "tta_accuracy": r.tta_accuracy,
            "front_params": i in params_front if r.params is not None else None,
            "front_latency": i in latency_front if r.latency_ms is not None else None, "measured_on": r.measured_on,
        })
    t.notes.append("Each run's Pareto set (several objectives) or best trial (one), chosen on validation; exported variants "
                   "re-evaluated on the same test split through their own runtime; baselines that publish a parameter count.")
    t.notes.append("Front: no other row is at least as accurate with no more parameters (or no more latency) and better on one. "
                   "Latency is the median of repeated batch-1 calls after warm-up, on the device named; numbers from "
                   "different devices or a loaded machine are not comparable with each other.")
    if any(r.test_set != rows[0].test_set for r in rows):
        t.notes.append("Rows measured on different test sets (Test set column) sit on one frontier for orientation only.")
    return t


def pareto_table(a: RunAnalysis, key: str) -> Table:
    """A multi-objective run's Pareto set: each objective's value (on validation and costs), then test scores."""
    goals = a.run.info.objectives
    cols = [Column("trial", "Trial", "int")]
    cols += [Column(f"goal_{i}", f"{g.metric} ({'max' if g.direction == 'maximize' else 'min'})",
                    "count" if g.metric in ("params", "macs") else "num") for i, g in enumerate(goals)]
    cols += [Column("test_accuracy", "Test accuracy", "frac"), Column("test_f1", "Test F1 (macro)", "frac"),
             Column("params", "Params", "count"), Column("macs", "MACs", "count"), Column("latency_ms", "Latency b=1 (ms)", "num"),
             Column("exports", "Exported")]
    t = Table(key, f"Pareto set ({len(a.run.pareto)} trials)", cols)
    for rec in a.run.pareto:
        values = list(rec.values or [None] * len(goals))
        row: dict[str, Any] = {"trial": rec.trial, **{f"goal_{i}": v for i, v in enumerate(values)},
                               "test_accuracy": None if rec.test is None else rec.test.accuracy,
                               "test_f1": None if rec.test is None else rec.test.f1_macro,
                               "params": rec.cost.params, "macs": rec.cost.macs, "latency_ms": rec.latency_ms,
                               "exports": ", ".join(e.format for e in a.run.exports(rec)) or None}
        t.rows.append(row)
    objectives = ", ".join(f"{g.direction} {g.metric}" for g in goals)
    t.notes.append(f"The complete trials within every bound that no other such trial beats on all objectives ({objectives}); "
                   f"the best trial (by {a.run.info.objective.metric}) is trial {a.run.info.best_trial}.")
    return t


def frontier_data(rows: Sequence[FrontRow]) -> list[dict[str, Any]]:
    """The frontier rows for the JSON report (full precision)."""
    params_front, latency_front = on_front(rows, "params"), on_front(rows, "latency_ms")
    return [{"model": r.label, "kind": r.kind, "variant": r.variant, "source": r.source, "test_set": r.test_set,
             "trial": r.trial, "params": r.params, "macs": r.macs, "latency_ms": r.latency_ms, "measured_on": r.measured_on,
             "accuracy": r.accuracy, "f1_macro": r.f1_macro, "tta_accuracy": r.tta_accuracy,
             "front_params": i in params_front, "front_latency": i in latency_front} for i, r in enumerate(rows)]
