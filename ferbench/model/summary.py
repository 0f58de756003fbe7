"""The network a spec builds, as data: its settings (fixed or searched) and its smallest and largest cost.

Plain Python (no TensorFlow): ``ferbench model summary`` renders it, ``--json`` prints
:meth:`ModelSummary.to_dict`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from ferbench.model.counting import Cost
from ferbench.model.family import ModelConfigError
from ferbench.model.ranges import arch_choices, family_cost_range, param_bounds
from ferbench.model.registry import CUSTOM, family
from ferbench.spec.loader import matrix_cells, spec_for_cell
from ferbench.spec.types import Spec

#: The hyperparameters a model's size grows with.
_COST_KEYS = ("width", "depth", "top_filters")


@dataclass(frozen=True)
class SearchedRange:
    """A searched size hyperparameter: its bounds, step or choices."""

    low: float
    high: float
    step: float | None
    choices: list[Any] | None


@dataclass(frozen=True)
class ModelSummary:
    """One architecture of a spec: fixed or searched settings, and the cost at both ends of the search space."""

    spec: str
    arch: str
    stages: tuple[int, ...]
    input_shape: tuple[int, int, int]
    num_classes: int
    settings: dict[str, float | int | SearchedRange]
    searched: tuple[str, ...]
    smallest: Cost
    largest: Cost

    def to_dict(self) -> dict[str, Any]:
        """Plain data (what ``ferbench model summary --json`` prints)."""
        return {
            "spec": self.spec, "arch": self.arch, "stages": list(self.stages), "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "settings": {k: dataclasses.asdict(v) if isinstance(v, SearchedRange) else v for k, v in self.settings.items()},
            "searched": list(self.searched), "smallest": _cost_dict(self.smallest), "largest": _cost_dict(self.largest),
        }


def _cost_dict(cost: Cost) -> dict[str, Any]:
    return {"params": cost.params, "macs": cost.macs, "flops": cost.flops, "stages": [dataclasses.asdict(s) for s in cost.stages]}


def summarize(spec: Spec, arch: str | None = None) -> ModelSummary:
    """The summary of the spec's model; ``arch``: which of the searched architectures (default: the spec's one)."""
    model = spec.model
    name = arch or model.arch
    if name is None:
        raise ModelConfigError("model.arch is searched: name one of its choices")
    if name == CUSTOM:
        raise ModelConfigError(f"model.arch: custom: the size of {model.builder}'s model is known only once it is built (ferbench run)")
    fam = family(name)
    settings: dict[str, float | int | SearchedRange] = {}
    searched: list[str] = []
    for key in _COST_KEYS:
        if key not in fam.takes:
            continue
        value = getattr(model, key)
        if value is None:
            param = next((p for p in spec.search.space if p.key == f"model.{key}"), None)
            if param is None:
                value = fam.defaults[key]
            else:
                low, high = param_bounds(param)
                settings[key] = SearchedRange(low, high, param.step, list(param.choices) if param.choices else None)
                searched.append(key)
                continue
        settings[key] = value
    smallest, largest = family_cost_range(fam.name, model, spec.search.space, spec.input_shape, spec.num_classes)
    return ModelSummary(spec=spec.name, arch=fam.name, stages=fam.check_stages(model.stages), input_shape=spec.input_shape,
                        num_classes=spec.num_classes, settings=settings, searched=tuple(searched), smallest=smallest, largest=largest)


def summarize_all(spec: Spec) -> list[ModelSummary]:
    """One summary per architecture the spec builds: per matrix cell, per searched choice (each once)."""
    out: list[ModelSummary] = []
    seen: set[str] = set()
    for cell in matrix_cells(spec.matrix) if spec.matrix else [{}]:
        s = spec_for_cell(spec, cell, spec.seed)
        for arch in arch_choices(s.model, s.search.space):
            summary = summarize(s, arch)
            d = summary.to_dict()
            key = json.dumps({k: d[k] for k in ("arch", "stages", "settings")}, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(summary)
    return out
