"""Human-readable rendering of a plan (rich).

Everything from the spec (description, ``--set`` values, paths, choices, notes) goes
out as :class:`rich.text.Text` or with ``markup=False``: ``[/red]`` in a description is text.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ferbench.plan import Plan, run_summary
from ferbench.report.safe_text import printable


def _si(n: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.3g}"


def _range(lo: float, hi: float) -> str:
    return _si(lo) if lo == hi else f"{_si(lo)}–{_si(hi)}"


def _compact(v: Any) -> str:
    """A matrix value on one line: a mapping (a whole section) as ``{key: value, ...}``."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_compact(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_compact(x) for x in v) + "]"
    return str(v)


def _workers(s: dict[str, Any]) -> str:
    """``1 on cpu``, or one process per slot: ``2 processes: w0 gpu:0 (CUDA_VISIBLE_DEVICES=0), ...``."""
    if s["workers"] <= 1:
        return f"{s['workers']} on {', '.join(s['devices'])}"
    each = ", ".join(f"{a['worker']} {a['device']} (CUDA_VISIBLE_DEVICES={a['cuda_visible_devices']})" for a in s["assignment"])
    liar = "; TPE with constant_liar" if s["sampler"]["name"] == "tpe" else ""
    return f"{s['workers']} processes, one study: {each}{liar}"


def print_plan(plan: Plan, console: Console | None = None) -> None:
    """Print the plan's runs, budgets, costs, search space and notes; user text is printed literally."""
    console = console or Console()
    spec = plan.spec
    head = Text.assemble((spec.name, "bold"), "  ", printable(spec.description))
    head.rstrip()
    console.print(head)
    summaries = [run_summary(r) for r in plan.runs]
    console.print(f"{len(summaries)} run(s)")
    for s in summaries:
        console.print(_run_table(s))
        console.print()
    _print_search(console, summaries[0])
    for note in dict.fromkeys(n for s in summaries for n in s["notes"]):
        console.print(f"note: {note}", markup=False)


def _run_table(s: dict[str, Any]) -> Table:
    """One planned run: its id, cell, seed, fold, budget, model, size, workers and folders."""
    cell = ", ".join(f"{k}={_compact(v)}" for k, v in s["matrix_cell"].items()) or "-"
    m = s["model"]
    arch = m["arch"] if isinstance(m["arch"], str) else "searched in {" + ", ".join(m["arch"]) + "}"
    stages = "all stages" if m["stages"] is None else f"stages {m['stages']}"
    weights = "" if m["weights"] in (None, "none") else f", weights {m['weights']}"
    size = (_range(*m["params"]), _range(*m["macs"])) if m["params"] is not None else ("known once built (custom builder)",) * 2
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in (
        ("run", s["run_id"]),
        ("matrix cell", cell),
        ("seed", str(s["seed"])),
        ("fold", "-" if s["fold"] is None else f"{s['fold']['fold']} of {s['fold']['folds']} (validates on it, trains on the rest of train + validation)"),
        ("trials", f"{s['trials']} x at most {s['max_epochs']} epochs (budget {s['epoch_budget']} epochs)"),
        ("model", f"{arch}, {stages}{weights}"),
        ("params", size[0]),
        ("MACs/image", size[1]),
        ("workers", _workers(s)),
        ("storage", s["storage"]),
        ("results", s["results_dir"]),
    ):
        table.add_row(key, Text(value))
    return table


def _print_search(console: Console, first: dict[str, Any]) -> None:
    """What every run shares: sampler, objectives, bounds, search space, fixed values, recipe and evaluation."""
    sampler = ", ".join(f"{k}={v}" for k, v in first["sampler"].items() if k != "name")
    if "objectives" in first:
        goal = "objectives: " + ", ".join(f"{o['direction']} {o['metric']}" for o in first["objectives"])
        if len(first["objectives"]) > 1:
            goal += f" (the best is the Pareto set; best trial by {first['objective']['metric']})"
    else:
        goal = f"objective: {first['objective']['direction']} {first['objective']['metric']}"
    console.print(f"sampler: {first['sampler']['name']} ({sampler}); pruner: {first['pruner']['name']}; {goal}")
    if "constraints" in first:
        bounds = ", ".join(f"{k} <= {_si(v['max']) if k != 'latency_ms' else str(v['max']) + ' ms'}" for k, v in first["constraints"].items())
        console.print(f"constraints: {bounds} (params and MACs judged by the cost model before a trial builds anything; "
                      "latency after training)", markup=False)
    if first["space"]:
        space = Table("searched", "key", "range", header_style="bold")
        for p in first["space"]:
            if p["kind"] == "categorical":
                rng = "{" + ", ".join(map(str, p["choices"])) + "}"
            else:
                rng = f"{p['kind']} [{p['low']}, {p['high']}]" + (f" step {p['step']}" if p["step"] else "") + (" log" if p["log"] else "")
            space.add_row(p["name"], p["key"], Text(rng))
        console.print(space)
    fixed = ", ".join(f"{k}={v}" for k, v in first["fixed"].items())
    console.print(f"fixed: {fixed}", markup=False)
    recipe = first["recipe"]
    schedule = ", ".join(f"{k}={v}" for k, v in recipe["schedule"].items() if k != "name")
    optimizer = ", ".join(f"{k}={v}" for k, v in recipe.items() if k not in ("optimizer", "schedule"))
    console.print(f"recipe: {recipe.get('optimizer', 'adam')}" + (f" ({optimizer})" if optimizer else "")
                  + f"; schedule {recipe['schedule'].get('name', 'constant')}" + (f" ({schedule})" if schedule else ""), markup=False)
    ev = first["evaluate"]
    if ev["tta"] != "none" or ev["on"]:
        console.print(f"evaluate: test-time augmentation {ev['tta']}; extra test sets: {', '.join(ev['on']) or '-'}", markup=False)
