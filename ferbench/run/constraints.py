"""A trial against ``search.constraints``: bounds on parameters and MACs before anything is built, latency after training.

The cost model (:mod:`ferbench.model.registry`, ranges in :mod:`ferbench.model.ranges`) knows a configuration's parameters and
MACs without TensorFlow, so a trial whose model is over such a bound is judged
infeasible before it builds or trains anything, in milliseconds. Latency is known only
once a model has been trained and measured. Optuna learns from both through each trial's
constraint values (``Trial.set_constraint``): the relative violation
``(value - max) / max``, feasible at 0 or below, 0 where a value was not measured.

Importing this module imports neither TensorFlow nor Optuna.
"""

from __future__ import annotations

from collections.abc import Mapping

from ferbench.results.measures import Bound, ConstraintCheck, Cost
from ferbench.spec.types import Spec


def bound_check(spec: Spec, cost: Cost, latency_ms: float | None = None) -> ConstraintCheck | None:
    """The trial's values against every bound of the spec (``None`` when the spec sets none)."""
    if not spec.search.constraints:
        return None
    values: Mapping[str, float | None] = {
        "params": None if cost.params is None else float(cost.params),
        "macs": None if cost.macs is None else float(cost.macs),
        "latency_ms": latency_ms,
    }
    return ConstraintCheck(tuple(Bound(c.metric, c.max, values[c.metric]) for c in spec.search.constraints))
