"""The table printed at the end of a run: the best trial's hyperparameters and test metrics.

Laid out like the thesis's Tables 5.2-5.7: the searched and fixed values of the
best trial (chosen on validation), then its metrics on the test split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ferbench.report.labels import HYPER_LABELS
from ferbench.report.labels import METRIC_LABELS as _METRIC_LABELS
from ferbench.results.health import Health, health_mark

#: The metrics shown for the test split (the first two for validation), labelled as in the report.
METRIC_LABELS = tuple((k, label) for k, label in _METRIC_LABELS if k not in ("precision_weighted", "recall_weighted"))


def _fmt(v: object) -> str:
    if isinstance(v, float):
        if v != 0 and abs(v) < 1e-2:
            return f"{v:.3g}"  # learning rates: 0.00123, 5e-06
        return f"{v:.4f}".rstrip("0").rstrip(".") or "0"
    return str(v)


def _health(record: Mapping[str, Any]) -> Health | None:
    """The record's ``health`` block (:mod:`ferbench.results.health`); ``None`` for a record without one."""
    h = record.get("health")
    return Health.from_dict(h) if h else None


def degenerate_mark(record: Mapping[str, Any]) -> str:
    """`` (DEGENERATE)`` for a trial whose model is broken, as the report marks it; else empty."""
    h = _health(record)
    return "" if h is None or h.healthy else " (DEGENERATE)"


def best_table(run_info: Mapping[str, Any], record: Mapping[str, Any] | None, searched: set[str]) -> Any:
    """A rich renderable for one run's best trial (or a note that none completed)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    name = f"{run_info['spec_name']} {run_info['run_id']}"
    t = run_info["trials"]
    counts = f"{t['complete']} complete, {t['pruned']} pruned, {t['failed']} failed of {t['target']}"
    if t.get("infeasible"):
        counts += f" (and {t['infeasible']} infeasible, not trained)"
    if record is None:
        table = Table(title=Text(f"{name}: no complete trial"), caption=f"trials: {counts}", show_header=False,
                      title_justify="left", caption_justify="left")
        table.add_column("")
        table.add_row("every trial failed or was pruned; see trials/*/record.json for the errors")
        return table
    metric = run_info["objective"]["metric"]
    table = Table()
    table.add_column("Hyperparameter / metric")
    table.add_column("Value", justify="right")
    hp = record["hyperparameters"]
    for key, label in HYPER_LABELS:
        if hp.get(key) is not None:  # a hyperparameter the architecture lacks is null
            table.add_row(label + (" *" if key in searched else ""), _fmt(hp[key]))
    cost = record.get("cost") or {}
    if cost.get("params") is not None:
        table.add_row("Parameters", f"{cost['params']:,}")
    health = _health(record)
    if health is not None:
        table.add_row("Health", Text(health_mark(health) or "", style="" if health.healthy else "bold red"))
    table.add_section()
    for split in ("test", "validation"):
        m = (record.get("metrics") or {}).get(split)
        if not m:
            continue
        table.add_row(f"[bold]{split} (n={m['n']})[/bold]", "")
        for key, label in METRIC_LABELS if split == "test" else METRIC_LABELS[:2]:
            table.add_row(f"  {label}", _fmt(m[key]) if m.get(key) is not None else "-")
    metrics = record.get("metrics") or {}
    tta = metrics.get("tta")
    if tta:
        table.add_row(f"[bold]test with test-time augmentation ({tta['method']})[/bold]", "")
        for key in ("accuracy", "f1_macro"):
            table.add_row(f"  {dict(METRIC_LABELS)[key]}", _fmt(tta["test"][key]))
    for name, m in (metrics.get("cross") or {}).items():
        with_tta = f" / {_fmt((tta or {}).get('cross', {}).get(name, {}).get('accuracy'))} with TTA" if tta else ""
        table.add_row(f"extra test set {name} (n={m['n']}): accuracy", _fmt(m["accuracy"]) + with_tta)
    # Title and notes as lines of their own: a table's title and caption wrap to its width.
    lines: list[Text | Table] = [Text(f"{name}: best trial {record['trial']}{degenerate_mark(record)}", style="bold"), table,
             Text(f"chosen on validation: {metric} = {_fmt(record['objective'])}; trials: {counts}; * searched")]
    if health is not None and not health.healthy:
        lines.append(Text(f"(DEGENERATE) {health.message()}; its scores are a broken model's, not a result.", style="bold red"))
    return Group(*lines)


#: How each objective's value reads in a table.
_GOAL_FORMAT = {"params": "{:,.0f}", "macs": "{:,.0f}", "latency_ms": "{:.3g} ms"}


def pareto_table(run_info: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> Any:
    """A rich renderable for a multi-objective run's Pareto set: each trial's objectives and test scores."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    goals = run_info.get("objectives") or []
    table = Table()
    table.add_column("Trial", justify="right")
    for g in goals:
        table.add_column(f"{g['metric']} ({'max' if g['direction'] == 'maximize' else 'min'})", justify="right")
    for label in ("Test accuracy", "Test F1 (macro)", "Params", "Latency b=1", "Health"):
        table.add_column(label, justify="right")
    for rec in records:
        values = rec.get("values") or [None] * len(goals)
        cells = [str(rec["trial"])]
        cells += ["-" if v is None else _GOAL_FORMAT.get(g["metric"], "{:.4f}").format(v) for g, v in zip(goals, values)]
        test = (rec.get("metrics") or {}).get("test") or {}
        batches = (rec.get("latency") or {}).get("batches") or []
        b1 = next((b["median_ms"] for b in batches if b["batch_size"] == 1), None)
        cells += [_fmt(test["accuracy"]) if "accuracy" in test else "-", _fmt(test["f1_macro"]) if "f1_macro" in test else "-",
                  f"{rec['cost']['params']:,}" if (rec.get("cost") or {}).get("params") is not None else "-",
                  "-" if b1 is None else f"{b1:.3g} ms", health_mark(_health(rec)) or "-"]
        table.add_row(*cells)
    name = f"{run_info['spec_name']} {run_info['run_id']}"
    where = (records[0].get("latency") or {}).get("device") if records else None
    return Group(Text(f"{name}: Pareto set ({len(records)} trial{'s' if len(records) != 1 else ''})", style="bold"), table,
                 Text("chosen on validation (objectives); test scores for reading only" + (f"; latency on {where}" if where else "")))


def summary_line(run_info: Mapping[str, Any], record: Mapping[str, Any] | None) -> str:
    """One line for ``--quiet``: status, best trial and its test accuracy / macro F1."""
    head = f"{run_info['spec_name']} {run_info['run_id']} {run_info['status']}"
    if record is None or not record.get("metrics"):
        return f"{head}: no complete trial"
    m = record["metrics"]["test"]
    pareto = run_info.get("pareto")
    front = f"; Pareto set: trial(s) {', '.join(map(str, pareto))}" if pareto is not None else ""
    return (f"{head}: best trial {record['trial']}{degenerate_mark(record)} {run_info['objective']['metric']}={_fmt(record['objective'])}, "
            f"test accuracy={m['accuracy']:.4f} f1_macro={m['f1_macro']:.4f}{front}")
