"""What Optuna is told about a finished trial: its objective values and its constraint values.

Both come from the trial's record, the same way for a trial a worker just finished and
for one :mod:`ferbench.run.search.reconcile` adds to a study from its ``record.json``,
so a rebuilt study tells its sampler exactly what the first one did.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ferbench.results.pareto import record_values
from ferbench.results.records import TrialRecord
from ferbench.spec.types import Spec

if TYPE_CHECKING:
    import optuna


def worst(direction: str) -> float:
    """The value of an objective a trial did not measure: the worst there is (Optuna sorts infinities correctly)."""
    return math.inf if direction == "minimize" else -math.inf


def study_values(spec: Spec, record: TrialRecord) -> float | list[float]:
    """The value (one objective) or values (several) a complete or infeasible record tells Optuna.

    A single-objective trial tells its ``objective``. With several objectives, each is
    read off the record; what an infeasible trial never measured (validation metrics,
    latency) is the worst value, and its constraint values tell the sampler why.
    """
    if not spec.search.multi:
        if record.objective is None:
            return worst(spec.search.direction)
        return float(record.objective)
    values = record_values(record, [g.metric for g in spec.search.goals])
    return [worst(g.direction) if v is None else float(v) for g, v in zip(spec.search.goals, values, strict=True)]


def constraint_values(record: TrialRecord) -> dict[str, float]:
    """Optuna's constraint value per bound: the relative violation, feasible at 0 or below (0 where not measured)."""
    if record.constraints is None:
        return {}
    return {b.metric: b.violation for b in record.constraints.bounds}


def tell_constraints(trial: optuna.Trial, record: TrialRecord) -> None:
    """Set the trial's constraint values before it finishes (the samplers read them: TPE, NSGA-II, GP)."""
    for key, value in constraint_values(record).items():
        trial.set_constraint(key, value)
