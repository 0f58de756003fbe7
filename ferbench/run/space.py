"""From a spec's search space to one trial's hyperparameters.

The spec fixes some values and searches others (``ModelSpec`` / ``TrainSpec`` hold
``None`` where a value is searched). A trial asks Optuna for the searched ones
and merges them over the fixed ones, giving every effective value.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from ferbench.spec.types import SearchParam, Spec

#: The effective hyperparameters every trial records, in this order.
HYPERPARAMETERS = ("width", "depth", "dropout", "top_filters", "drop_connect", "learning_rate", "batch_size", "label_smoothing")

#: Used only when a value is neither fixed nor searched. The spec loader already
#: fills these (``spec.build.HYPER_DEFAULTS``); kept here so a hand-built Spec runs too.
FALLBACK = {
    "width": 1.0,
    "depth": 1.0,
    "dropout": 0.2,
    "top_filters": 1280,
    "drop_connect": 0.2,
    "learning_rate": 1e-3,
    "batch_size": 64,
    "label_smoothing": 0.0,
}

_INT_PARAMS = {"top_filters", "batch_size"}


def suggest(trial: Any, space: tuple[SearchParam, ...]) -> dict[str, Any]:
    """Ask ``trial`` (an ``optuna.Trial``) for every searched value.

    An enqueued trial (a re-run of an interrupted one) gets its stored values back
    from these same calls, so re-runs need no special path.
    """
    params: dict[str, Any] = {}
    for p in space:
        if p.kind == "categorical":
            assert p.choices is not None
            params[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.kind == "int":
            step = int(p.step) if p.step else 1
            # Optuna refuses step together with log; a log int search has step 1.
            params[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), step=step, log=p.log)
        else:
            params[p.name] = trial.suggest_float(p.name, float(p.low), float(p.high), step=None if p.log else p.step, log=p.log)
    return params


def fixed_values(spec: Spec) -> dict[str, Any]:
    """The spec's fixed hyperparameters (``None`` where searched)."""
    m, t = spec.model, spec.train
    return {
        "width": m.width,
        "depth": m.depth,
        "dropout": m.dropout,
        "top_filters": m.top_filters,
        "drop_connect": m.drop_connect,
        "learning_rate": t.learning_rate,
        "batch_size": t.batch_size,
        "label_smoothing": spec.loss.label_smoothing,
    }


def effective(spec: Spec, params: Mapping[str, Any]) -> dict[str, Any]:
    """Every hyperparameter of a trial: the trial's params over the spec's fixed values."""
    fixed = fixed_values(spec)
    out: dict[str, Any] = {}
    for name in HYPERPARAMETERS:
        value = params.get(name, fixed[name])
        if value is None:
            value = FALLBACK[name]
        out[name] = int(value) if name in _INT_PARAMS else float(value)
    return out


def grid_space(space: tuple[SearchParam, ...]) -> dict[str, list[Any]]:
    """The finite grid of a space, for Optuna's ``GridSampler``.

    Each range needs a step (the spec checks guarantee it); points are built by
    index, not by accumulating floats, so 0.2 + 0.05·k stays on the grid.
    """
    grid: dict[str, list[Any]] = {}
    for p in space:
        if p.kind == "categorical":
            grid[p.name] = list(p.choices or ())
            continue
        step = p.step if p.step else (1 if p.kind == "int" else None)
        if step is None:
            raise ValueError(f"search.space.{p.name}: the grid sampler needs a step")
        n = int(math.floor((float(p.high) - float(p.low)) / float(step) + 1e-9)) + 1
        if p.kind == "int":
            grid[p.name] = [int(p.low) + int(step) * i for i in range(n)]
        else:
            grid[p.name] = [round(float(p.low) + float(step) * i, 12) for i in range(n)]
    return grid
