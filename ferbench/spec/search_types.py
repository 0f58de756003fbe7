"""Typed, frozen views of a validated spec's search: the space, sampler, pruner, objectives and cost bounds.

The search part of :mod:`ferbench.spec.types` (whose ``Spec.search`` is a :class:`SearchSpec`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from ferbench.spec.enums import CostMetric, Direction, ParamKind, PrunerName, SamplerName, ValidationMetric


@dataclass(frozen=True)
class SearchParam:
    """One dimension of the search space."""

    name: str
    key: str  # the dotted spec key it sets
    kind: ParamKind
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class SamplerSpec:
    name: SamplerName
    options: Mapping[str, Any]  # every option stated (multivariate, constant_liar, ...)


@dataclass(frozen=True)
class PrunerSpec:
    name: PrunerName
    options: Mapping[str, Any]


#: Objectives measured on the validation split (the rest are costs of the model).
VALIDATION_METRICS: tuple[ValidationMetric, ...] = get_args(ValidationMetric)
#: Costs of a trial's model an objective or a constraint can name.
COST_METRICS: tuple[CostMetric, ...] = get_args(CostMetric)
#: Costs the TensorFlow-free cost model knows before anything is built.
STATIC_COSTS: tuple[str, ...] = ("params", "macs")


def default_direction(metric: str) -> Direction:
    """Which way a metric improves: losses and costs go down, accuracy and F1 up."""
    return "maximize" if metric in ("val_accuracy", "val_f1_macro", "val_balanced_accuracy") else "minimize"


@dataclass(frozen=True)
class ObjectiveSpec:
    """One objective of a search: a validation metric or a cost, and which way it improves."""

    metric: ValidationMetric | CostMetric
    direction: Direction


@dataclass(frozen=True)
class ConstraintSpec:
    """An upper bound on a cost of the trial's model (``search.constraints``)."""

    metric: CostMetric
    max: float

    @property
    def static(self) -> bool:
        """Judged by the cost model before the model is built (params, MACs), not after training (latency)."""
        return self.metric in STATIC_COSTS


@dataclass(frozen=True)
class SearchSpec:
    trials: int
    sampler: SamplerSpec
    pruner: PrunerSpec
    #: The validation metric that picks the best trial (and that a pruner watches): ``search.objective``'s,
    #: or the first validation metric of ``search.objectives``.
    metric: ValidationMetric
    direction: Direction
    space: tuple[SearchParam, ...]
    timeout_s: float | None
    #: ``search.objectives`` as written (directions filled in); ``()`` for a single ``search.objective``.
    objectives: tuple[ObjectiveSpec, ...] = ()
    #: ``search.constraints``, in the order params, macs, latency_ms.
    constraints: tuple[ConstraintSpec, ...] = ()

    @property
    def goals(self) -> tuple[ObjectiveSpec, ...]:
        """What the study optimises, in order: ``search.objectives``, or the single objective."""
        return self.objectives or (ObjectiveSpec(self.metric, self.direction),)

    @property
    def multi(self) -> bool:
        """Several objectives: a multi-objective study, whose best is a Pareto set."""
        return len(self.goals) > 1

    @property
    def validation_metrics(self) -> tuple[str, ...]:
        """Every validation metric the study needs per epoch (the objectives' and the best trial's)."""
        return tuple(dict.fromkeys([self.metric, *(g.metric for g in self.goals if g.metric in VALIDATION_METRICS)]))

    def constraint(self, metric: str) -> ConstraintSpec | None:
        """The bound on ``metric``, if the spec sets one."""
        return next((c for c in self.constraints if c.metric == metric), None)
