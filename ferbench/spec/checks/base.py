"""The registry of semantic checks and what several of them share.

A check takes the schema-valid, default-filled spec data and its positions and yields
located problems; :func:`check` registers it in the order the check modules are imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ferbench.errors import Located
from ferbench.spec.compose import get_path
from ferbench.spec.yaml_loader import LocatedDoc

Check = Callable[[dict[str, Any], LocatedDoc], Iterator[Located]]
CHECKS: list[Check] = []

INT_PARAMS = {"top_filters", "batch_size", "warmup_epochs", "lr_step_epochs", "lr_patience"}
#: Searched values that are booleans (searched as choices: [true, false]).
BOOL_PARAMS = {"nesterov"}
#: The options of the nsga2 sampler (refused on the others).
NSGA2_OPTIONS = ("population_size", "crossover_prob", "swapping_prob")


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


def search_space(data: dict[str, Any]) -> dict[str, Any]:
    return get_path(data, "search.space", {}) or {}


def dataset_blocks(data: dict[str, Any]) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """The spec's dataset and every extra test set's (``evaluate.on[i].dataset``), with their paths."""
    ds = data.get("dataset")
    if isinstance(ds, dict):
        yield ("dataset",), ds
    for i, entry in enumerate(get_path(data, "evaluate.on", []) or []):
        if isinstance(entry, dict) and isinstance(entry.get("dataset"), dict):
            yield ("evaluate", "on", i, "dataset"), entry["dataset"]
