"""From a spec's search space to one trial's hyperparameters.

The spec fixes some values and searches others (``ModelSpec`` / ``TrainSpec`` hold
``None`` where a value is searched). A trial asks Optuna for the searched ones
and merges them over the fixed ones, giving every effective value.

A searched architecture (``search.space.arch``) makes the space conditional,
define-by-run: the trial asks for the architecture first, then only for the model
hyperparameters that architecture has; the others are ``None`` in its record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ferbench.model.family import MODEL_HYPERPARAMETERS
from ferbench.model.registry import CUSTOM, FAMILIES
from ferbench.spec.search_types import SearchParam
from ferbench.spec.types import Spec

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

#: The effective hyperparameters every trial records, in this order (then ``arch``).
HYPERPARAMETERS = ("width", "depth", "dropout", "top_filters", "drop_connect", "learning_rate", "batch_size", "label_smoothing")

#: Used only when a training value is neither fixed nor searched. The spec loader
#: already fills these (``spec.build.HYPER_DEFAULTS``), and a family's own values come
#: from its defaults; kept here so a hand-built Spec runs too.
FALLBACK = {
    "learning_rate": 1e-3,
    "batch_size": 64,
    "label_smoothing": 0.0,
}

_INT_PARAMS = {"top_filters", "batch_size"}


def distributions(space: Sequence[SearchParam]) -> dict[str, BaseDistribution]:
    """Optuna's distribution of every searched value (what ``suggest`` asks for)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, BaseDistribution] = {}
    for p in space:
        if p.kind == "categorical":
            out[p.name] = CategoricalDistribution(list(p.choices or ()))
        elif p.kind == "int":
            assert p.low is not None and p.high is not None
            # Optuna refuses step together with log; a log int search has step 1.
            out[p.name] = IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step) if p.step and not p.log else 1)
        else:
            assert p.low is not None and p.high is not None
            out[p.name] = FloatDistribution(float(p.low), float(p.high), log=p.log, step=None if p.log else p.step)
    return out


def suggest(trial: optuna.Trial, space: Sequence[SearchParam]) -> dict[str, Any]:
    """Ask ``trial`` for every searched value.

    An enqueued trial (a re-run of an interrupted one) gets its stored values back
    from these same calls, so re-runs need no special path.
    """
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    params: dict[str, Any] = {}
    dists = distributions(space)
    arch = None
    if "arch" in dists:  # first: it decides which model hyperparameters exist
        arch_dist = dists.pop("arch")
        assert isinstance(arch_dist, CategoricalDistribution)
        arch = params["arch"] = trial.suggest_categorical("arch", list(arch_dist.choices))
    for name, d in dists.items():
        if arch is not None and not applies(str(arch), name):
            continue
        if isinstance(d, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, list(d.choices))
        elif isinstance(d, IntDistribution):
            params[name] = trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
        else:
            assert isinstance(d, FloatDistribution)
            params[name] = trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)
    return params


def applies(arch: str, name: str) -> bool:
    """Whether a hyperparameter exists for an architecture (a custom builder takes every one it is given)."""
    if name not in MODEL_HYPERPARAMETERS or arch == CUSTOM:
        return True
    fam = FAMILIES.get(arch)
    return fam is not None and name in fam.takes


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
    """Every hyperparameter of a trial: the trial's params over the spec's fixed values,
    over the defaults of the trial's architecture; ``None`` for a model hyperparameter the
    architecture does not have (or a custom builder is not given). Ends with ``arch``."""
    fixed = fixed_values(spec)
    arch = str(params.get("arch", spec.model.arch))
    fam = FAMILIES.get(arch)
    out: dict[str, Any] = {}
    for name in HYPERPARAMETERS:
        value = params.get(name, fixed[name])
        if name in MODEL_HYPERPARAMETERS:
            if fam is not None:
                value = (value if value is not None else fam.defaults.get(name)) if name in fam.takes else None
        elif value is None:
            value = FALLBACK[name]
        out[name] = None if value is None else int(value) if name in _INT_PARAMS else float(value)
    out["arch"] = arch
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
        if step is None or p.low is None or p.high is None:
            raise ValueError(f"search.space.{p.name}: the grid sampler needs a step")
        n = int(math.floor((float(p.high) - float(p.low)) / float(step) + 1e-9)) + 1
        if p.kind == "int":
            grid[p.name] = [int(p.low) + int(step) * i for i in range(n)]
        else:
            grid[p.name] = [round(float(p.low) + float(step) * i, 12) for i in range(n)]
    return grid
