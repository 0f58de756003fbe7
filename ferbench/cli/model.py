"""``ferbench model``: the registered families, and the network a spec builds, without TensorFlow."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ferbench.cli.common import SET_OPTION, load
from ferbench.model.counting import StageCost
from ferbench.model.family import MEANING, Family
from ferbench.model.registry import FAMILIES, family
from ferbench.model.summary import ModelSummary, SearchedRange, summarize_all

T = TypeVar("T")

app = typer.Typer(help="The model families, and the model a spec builds (no TensorFlow needed).", no_args_is_help=True)

@app.callback()
def _group() -> None:
    """The model families, and the model a spec builds (no TensorFlow needed)."""


def _operator(fam: Family, stage: int) -> str:
    """The operator of a stage in the family's words (strides show in the output sizes)."""
    return fam.head if stage == fam.head_stage else fam.stages[stage]


def _span(low: T, high: T, fmt: Callable[[T], str] = str) -> str:
    return fmt(low) if low == high else f"{fmt(low)}–{fmt(high)}"


def _compact(n: int) -> str:
    """3 significant digits with a k/M/G suffix: 1,319,680 -> 1.32M."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            v = n / scale
            return f"{v:.3g}{suffix}" if v < 100 else f"{v:.0f}{suffix}"
    return str(n)


def _exact(n: int) -> str:
    return f"{n:,}"


def _setting(name: str, value: float | int | SearchedRange) -> str:
    if not isinstance(value, SearchedRange):
        return f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"
    if value.choices is not None:
        return f"{name} searched in {value.choices}"
    step = f" step {value.step:g}" if value.step else ""
    return f"{name} searched {value.low:g}–{value.high:g}{step}"


def render(summary: ModelSummary, console: Console) -> None:
    """Print the per-stage table (ranges where the search space leaves a choice)."""
    h, w, c = summary.input_shape
    stages = summary.stages
    fam = family(summary.arch)
    ranged = bool(summary.searched)
    title = (
        f"{summary.spec}: {summary.arch}, stages {stages[0]}–{stages[-1]}, "
        f"input {h}×{w}×{c}, {summary.num_classes} classes"
    )
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("Stage", justify="right", no_wrap=True)
    table.add_column("Operator")
    for col in ("Channels", "Layers", "Output", "Params", "MACs"):
        table.add_column(col, justify="right", no_wrap=True)
    # Per-stage parameters are exact for one model and compact for a range, to keep the width sane.
    params_fmt = _compact if ranged else _exact
    lo_rows: tuple[StageCost, ...] = summary.smallest.stages
    hi_rows: tuple[StageCost, ...] = summary.largest.stages
    for lo, hi in zip(lo_rows, hi_rows):
        table.add_row(
            str(lo.stage),
            _operator(fam, lo.stage),
            _span(lo.channels, hi.channels),
            _span(lo.repeats, hi.repeats),
            f"{lo.output_size}×{lo.output_size}",
            _span(lo.params, hi.params, params_fmt),
            _span(lo.macs, hi.macs, _compact),
        )
    small, large = summary.smallest, summary.largest
    table.add_section()
    table.add_row("", "Total", "", "", "", _span(small.params, large.params, params_fmt), _span(small.macs, large.macs, _compact))
    console.print(table)
    if summary.settings:
        console.print("settings: " + ", ".join(_setting(k, v) for k, v in summary.settings.items()))
    console.print(f"parameters: {_span(small.params, large.params, _exact)}; MACs per image: {_span(small.macs, large.macs, _exact)}")
    if ranged:
        keys = " ".join(f"--set model.{k}=..." for k in summary.searched)
        console.print(
            "Ranges run from the smallest to the largest model of the search space "
            f"(every searched value at its low, then at its high). To see one model: {keys}"
        )
    console.print("MACs: multiply-accumulates of conv and dense kernels per image (FLOPs ≈ 2 × MACs).")


@app.command("summary")
def summary_command(
    spec: Path = typer.Argument(..., help="The spec file (YAML)."),
    sets: list[str] | None = SET_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (exact numbers)."),
) -> None:
    """Per-stage channels, layers, output size, parameters and MACs of the spec's model.

    Searched width, depth or head filters show as ranges over the search space; --set fixes them.
    A spec with several architectures (a matrix over the model, a searched arch) shows one table each.
    """
    loaded = load(spec, sets)
    data = summarize_all(loaded)
    if as_json:
        dicts = [s.to_dict() for s in data]
        typer.echo(json.dumps(dicts[0] if len(dicts) == 1 else dicts, indent=2))
        return
    console = Console()
    for i, summary in enumerate(data):
        if i:
            console.print()
        render(summary, console)


def families_data() -> list[dict[str, Any]]:
    """Every registered family as plain data (what ``model list --json`` prints)."""
    return [{
        "name": f.name, "title": f.title, "reference": f.reference,
        "stages": [{"stage": i, "operator": op} for i, op in enumerate(f.stages)] + [{"stage": f.head_stage, "operator": f.head}],
        "takes": list(f.takes), "defaults": dict(f.defaults), "imagenet": f.imagenet,
    } for f in FAMILIES.values()]


@app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Print the families as JSON."),
) -> None:
    """The registered families: stages (what model.stages keeps a prefix of), hyperparameters and defaults.

    Plus model.arch: custom with model.builder: "package.module:function", a Keras builder of your own.
    """
    data = families_data()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(box=box.SIMPLE_HEAD, title="model.arch", title_justify="left")
    for col in ("Family", "Stages (head)", "Hyperparameters and defaults", "ImageNet"):
        table.add_column(col)
    for f in data:
        stages = f"0–{len(f['stages']) - 2} ({len(f['stages']) - 1})"
        hp = ", ".join(f"{k} {f['defaults'][k]:g}" if k in f["defaults"] else k for k in f["takes"]) or "–"
        table.add_row(Text(f["name"]), stages, Text(hp), "yes" if f["imagenet"] else "–")
    console = Console()
    console.print(table)
    console.print(Text("custom: model.builder: \"package.module:function\", called as function(input_shape, num_classes, **params)"))
    console.print(Text("Hyperparameters: " + "; ".join(f"{k}: {v}" for k, v in MEANING.items())))
    console.print(Text("A family's stages and references: ferbench model list --json, and docs/model.md."))
