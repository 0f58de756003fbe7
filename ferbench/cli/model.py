"""``ferbench model``: inspect the network a spec builds, without TensorFlow."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ferbench.cli.common import SET_OPTION, load
from ferbench.model.arch import ARCH, HEAD_STAGE, STAGES, STEM_KERNEL, ModelConfigError
from ferbench.model.cost import Cost, StageCost, cost_range, param_bounds
from ferbench.spec.types import Spec

T = TypeVar("T")

app = typer.Typer(help="Inspect the model a spec builds (no TensorFlow needed).", no_args_is_help=True)

_COST_KEYS = ("width", "depth", "top_filters")


@app.callback()
def _group() -> None:
    """Inspect the model a spec builds (no TensorFlow needed)."""
    # A callback keeps ``model`` a command group even while it has a single command.


def _operator(stage: int) -> str:
    """The operator in the words of thesis Table 4.3 (strides show in the output sizes)."""
    if stage == 0:
        return f"Conv{STEM_KERNEL}x{STEM_KERNEL}"
    if stage == HEAD_STAGE:
        return "Conv1x1 & Pool & FC"
    a = STAGES[stage - 1]
    name = "Fused-MBConv" if a.kind == "fused_mbconv" else "MBConv"
    se = f" SE{a.se_ratio:g}" if a.se_ratio else ""
    return f"{name}{a.expand_ratio} k{a.kernel_size}x{a.kernel_size}{se}"


def _cost_dict(cost: Cost) -> dict[str, Any]:
    return {"params": cost.params, "macs": cost.macs, "flops": cost.flops, "stages": [dataclasses.asdict(s) for s in cost.stages]}


def summarize(spec: Spec) -> dict[str, Any]:
    """The model summary as plain data: settings (fixed value or searched bounds) and the
    smallest and largest cost over the search space (equal when nothing is searched)."""
    model = spec.model
    if model.arch != ARCH:
        raise ModelConfigError(f"model.arch: only {ARCH} is known, got {model.arch!r}")
    settings: dict[str, Any] = {}
    searched: list[str] = []
    for name in _COST_KEYS:
        value = getattr(model, name)
        if value is None:
            param = next((p for p in spec.search.space if p.key == f"model.{name}"), None)
            if param is None:
                raise ModelConfigError(f"model.{name} is neither set nor searched; set it with --set model.{name}=...")
            low, high = param_bounds(param)
            settings[name] = {"low": low, "high": high, "step": param.step, "choices": list(param.choices) if param.choices else None}
            searched.append(name)
        else:
            settings[name] = value
    smallest, largest = cost_range(model, spec.search.space, spec.input_shape, spec.num_classes)
    return {
        "spec": spec.name,
        "arch": model.arch,
        "stages": list(model.stages),
        "input_shape": list(spec.input_shape),
        "num_classes": spec.num_classes,
        "settings": settings,
        "searched": searched,
        "smallest": _cost_dict(smallest),
        "largest": _cost_dict(largest),
    }


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


def _setting(name: str, value: object) -> str:
    if not isinstance(value, dict):
        return f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"
    if value["choices"] is not None:
        return f"{name} searched in {value['choices']}"
    step = f" step {value['step']:g}" if value["step"] else ""
    return f"{name} searched {value['low']:g}–{value['high']:g}{step}"


def render(summary: dict[str, Any], console: Console) -> None:
    """Print the per-stage table (ranges where the search space leaves a choice)."""
    h, w, c = summary["input_shape"]
    stages = summary["stages"]
    ranged = bool(summary["searched"])
    title = (
        f"{summary['spec']}: {summary['arch']}, stages {stages[0]}–{stages[-1]}, "
        f"input {h}×{w}×{c}, {summary['num_classes']} classes"
    )
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("Stage", justify="right", no_wrap=True)
    table.add_column("Operator")
    for col in ("Channels", "Layers", "Output", "Params", "MACs"):
        table.add_column(col, justify="right", no_wrap=True)
    # Per-stage parameters are exact for one model and compact for a range, to keep the width sane.
    params_fmt = _compact if ranged else _exact
    lo_rows = [StageCost(**s) for s in summary["smallest"]["stages"]]
    hi_rows = [StageCost(**s) for s in summary["largest"]["stages"]]
    for lo, hi in zip(lo_rows, hi_rows):
        table.add_row(
            str(lo.stage),
            _operator(lo.stage),
            _span(lo.channels, hi.channels),
            _span(lo.repeats, hi.repeats),
            f"{lo.output_size}×{lo.output_size}",
            _span(lo.params, hi.params, params_fmt),
            _span(lo.macs, hi.macs, _compact),
        )
    lo, hi = summary["smallest"], summary["largest"]
    table.add_section()
    table.add_row("", "Total", "", "", "", _span(lo["params"], hi["params"], params_fmt), _span(lo["macs"], hi["macs"], _compact))
    console.print(table)
    console.print("settings: " + ", ".join(_setting(k, v) for k, v in summary["settings"].items()))
    console.print(f"parameters: {_span(lo['params'], hi['params'], _exact)}; MACs per image: {_span(lo['macs'], hi['macs'], _exact)}")
    if ranged:
        keys = " ".join(f"--set model.{k}=..." for k in summary["searched"])
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
    """
    loaded = load(spec, sets)
    data = summarize(loaded)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        render(data, Console())
