"""Objective values of a trial record and the Pareto set of a run, in plain Python.

A multi-objective run (``search.objectives``) has no single best trial: its best is
the Pareto set, the complete trials within every bound of ``search.constraints`` that
no other such trial dominates (at least as good on every objective, better on one).
The run loop keeps the set in run.json (``pareto``) and the report reads it there;
both compute it with :func:`pareto_front`, from the values :func:`record_values`
reads off the records. Nothing here imports TensorFlow or Optuna.
"""

from __future__ import annotations

from collections.abc import Sequence

from ferbench.results.records import TrialRecord

#: Objective metrics read from the per-epoch history at the kept epoch.
HISTORY_METRICS = ("val_loss", "val_accuracy", "val_f1_macro", "val_balanced_accuracy")


def record_value(record: TrialRecord, metric: str) -> float | None:
    """One objective's value in a record: a validation metric at the kept epoch, a cost, or the batch-1 latency.

    ``None`` where the record does not have it (an infeasible trial never trained, so has
    no validation metric and no latency).
    """
    if metric in HISTORY_METRICS:
        values = record.history.get(metric, ())
        i = (record.best_epoch or 0) - 1
        value = values[i] if 0 <= i < len(values) else None
        return None if value is None else float(value)
    if metric in ("params", "macs"):
        cost = getattr(record.cost, metric)
        return None if cost is None else float(cost)
    if metric == "latency_ms":
        return record.latency_ms
    raise ValueError(f"unknown objective metric {metric!r}")


def record_values(record: TrialRecord, metrics: Sequence[str]) -> tuple[float | None, ...]:
    """The record's value of each objective metric, in order (see :func:`record_value`)."""
    return tuple(record_value(record, m) for m in metrics)


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[str]) -> bool:
    """Whether ``a`` is at least as good as ``b`` on every objective and better on one."""
    better = False
    for x, y, d in zip(a, b, directions, strict=True):
        if d == "maximize":
            x, y = -x, -y
        if x > y:
            return False
        better = better or x < y
    return better


def pareto_front(points: Sequence[tuple[int, Sequence[float]]], directions: Sequence[str]) -> list[int]:
    """The numbers of the points no other point dominates, ascending (equal points all stay)."""
    front = [n for n, v in points if not any(dominates(w, v, directions) for m, w in points if m != n)]
    return sorted(front)


def pareto_trials(records: Sequence[TrialRecord], metrics: Sequence[str], directions: Sequence[str]) -> list[int]:
    """The Pareto set of a run's records: complete, feasible trials with every objective measured."""
    points: list[tuple[int, Sequence[float]]] = []
    for r in records:
        if r.state != "complete" or not r.feasible:
            continue
        values = record_values(r, metrics)
        if all(v is not None for v in values):
            points.append((r.trial, [float(v) for v in values if v is not None]))
    return pareto_front(points, directions)
