"""The training recipes, one unit each, registered by their block in the spec.

The table (:data:`ferbench.spec.recipes.RECIPES`) says which keys and defaults a
recipe has; :data:`UNITS` says which unit of the trainer does it. A trial asks
:func:`units_for` for the recipes that are on and calls their hooks
(:class:`~ferbench.run.train.recipes.base.Unit`): the optimizer's options, the
callbacks, the batch transforms inside the train step (:mod:`.step`), the loss.
To add a recipe: a row in the table, a key in the schema, a unit here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from ferbench.run.train.recipes.base import Unit
from ferbench.run.train.recipes.distill import Distill
from ferbench.run.train.recipes.ema import Ema
from ferbench.run.train.recipes.erasing import RandomErasing
from ferbench.run.train.recipes.mixing import CutMix, Mixup
from ferbench.run.train.recipes.swa import Swa
from ferbench.spec.recipes import RECIPES
from ferbench.spec.types import Spec

#: Spec block -> its unit, in the order they act on a batch (mixup, then CutMix, then erasing).
UNITS: Mapping[str, type[Unit]] = {u.block: u for u in (Ema, Swa, Mixup, CutMix, RandomErasing, Distill)}

assert set(UNITS) == set(RECIPES), "every recipe of the table has a unit"

U = TypeVar("U", bound=Unit)


def units_for(spec: Spec, hp: Mapping[str, Any], value_range: tuple[float, float] = (0.0, 255.0)) -> list[Unit]:
    """The units of the recipes that are on, for a trial's hyperparameters."""
    from ferbench.run.train.recipe import recipe_on

    return [unit(hp, value_range) for block, unit in UNITS.items() if recipe_on(spec, block)]


def find(units: Sequence[Unit], kind: type[U]) -> U | None:
    """The unit of one kind among ``units``, if on."""
    return next((u for u in units if isinstance(u, kind)), None)


def needs_vectors(units: Sequence[Unit]) -> bool:
    """Whether some unit needs the labels as vectors."""
    return any(u.vectors for u in units)


def callbacks(units: Sequence[Unit]) -> list[Any]:
    return [c for u in units for c in u.callbacks()]
