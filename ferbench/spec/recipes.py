"""The training recipe in one table: every optimizer, schedule and recipe, its keys and defaults.

A row names where its values live in a spec (``block``), and each value its key, its
default and the name it has in a trial's hyperparameters and in ``search.space``
(``name``; ``searchable`` where a number or a switch can be searched). Everything
that needs to know which values an optimizer, schedule or recipe has reads this
table: the defaults filled into the resolved spec (:mod:`ferbench.spec.build`), the
searchable keys (:data:`ferbench.spec.types.SEARCHABLE`), the checks that a value
applies (:mod:`ferbench.spec.checks.protocol`), the trial's hyperparameters and the
trainer (:mod:`ferbench.run.train.recipe` and the recipe units beside it). A test
holds the schema's enums and keys to it (tests/spec/test_recipes_table.py).

TensorFlow-free: ``validate`` and ``plan`` read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

#: What a value is: how a trial's value is converted.
ValueKind = Literal["float", "int", "bool", "str", "range"]


@dataclass(frozen=True)
class Value:
    """One value of a row: its key in the row's block, default, hyperparameter name and kind."""

    key: str
    default: Any
    name: str
    kind: ValueKind
    #: Whether ``search.space.<name>`` may search it.
    searchable: bool = True


@dataclass(frozen=True)
class Row:
    """An optimizer, a schedule or a recipe."""

    group: Literal["optimizer", "schedule", "recipe"]
    name: str
    #: The dotted spec key of the block that holds its values.
    block: str
    values: tuple[Value, ...] = ()
    #: What it is, in one line (docs, ``explain``).
    summary: str = ""

    @property
    def defaults(self) -> dict[str, Any]:
        """Its values' defaults by key (only those that have one)."""
        return {v.key: v.default for v in self.values if v.default is not None}

    def value(self, key: str) -> Value:
        return next(v for v in self.values if v.key == key)


def _opt(name: str, summary: str, *values: Value) -> Row:
    return Row("optimizer", name, "train", values, summary)


def _sched(name: str, summary: str, *values: Value) -> Row:
    return Row("schedule", name, "train.schedule", values, summary)


#: ``train.optimizer``: Keras's defaults of each optimizer's own values (never for adam, so the
#: specs written before these keys existed keep their resolved form and run ids).
OPTIMIZERS: Mapping[str, Row] = {r.name: r for r in (
    _opt("adam", "Keras's Adam (the thesis's)."),
    _opt("sgd", "Keras's SGD, with momentum and nesterov.", Value("momentum", 0.0, "momentum", "float"),
         Value("nesterov", False, "nesterov", "bool"), Value("weight_decay", 0.0, "weight_decay", "float")),
    _opt("adamw", "Keras's AdamW: Adam with decoupled weight decay.", Value("weight_decay", 0.004, "weight_decay", "float")),
)}

#: The warm-up every schedule has (``train.schedule.warmup_epochs``).
WARMUP = Value("warmup_epochs", 0, "warmup_epochs", "int")

#: ``train.schedule.name``: the values each schedule uses and their defaults (Keras's, where Keras has one).
SCHEDULES: Mapping[str, Row] = {r.name: r for r in (
    _sched("constant", "The learning rate throughout."),
    _sched("cosine", "Keras's CosineDecay over the epochs after the warm-up.", Value("alpha", 0.0, "lr_alpha", "float")),
    _sched("step", "Keras's ExponentialDecay, staircase: times factor every step_epochs.",
           Value("step_epochs", 10, "lr_step_epochs", "int"), Value("factor", 0.1, "lr_factor", "float")),
    _sched("plateau", "Keras's ReduceLROnPlateau from the end of the warm-up on.",
           Value("factor", 0.1, "lr_factor", "float"), Value("patience", 10, "lr_patience", "int"),
           Value("monitor", "val_loss", "lr_monitor", "str", searchable=False),
           Value("min_delta", 1e-4, "lr_min_delta", "float", searchable=False),
           Value("cooldown", 0, "lr_cooldown", "int", searchable=False),
           Value("min_learning_rate", 0.0, "lr_min", "float")),
)}

#: The recipes beyond optimizer and schedule: each is on where its block is in the spec
#: (``{}`` takes every default), and is a unit of the trainer registered by its block
#: (:mod:`ferbench.run.train.recipes`).
RECIPES: Mapping[str, Row] = {r.block: r for r in (
    Row("recipe", "ema", "train.ema", (Value("decay", 0.999, "ema_decay", "float"),),
        "An exponential moving average of the weights, updated every step; the average is validated, scored and saved."),
    Row("recipe", "swa", "train.swa", (Value("epochs", 3, "swa_epochs", "int", searchable=False),),
        "Stochastic weight averaging (Izmailov et al. 2018): the equal-weight average of the last epochs' weights."),
    Row("recipe", "mixup", "augment.mixup", (Value("alpha", 0.2, "mixup_alpha", "float"), Value("prob", 1.0, "mixup_prob", "float")),
        "Mixup (Zhang et al. 2018): an image blended with another of its batch, labels and class weights blended alike."),
    Row("recipe", "cutmix", "augment.cutmix", (Value("alpha", 1.0, "cutmix_alpha", "float"), Value("prob", 1.0, "cutmix_prob", "float")),
        "CutMix (Yun et al. 2019): a box of another image of the batch pasted in, labels and class weights mixed by its area."),
    Row("recipe", "random_erasing", "augment.random_erasing",
        (Value("prob", 0.25, "erasing_prob", "float"), Value("area", (0.02, 1 / 3), "erasing_area", "range", searchable=False),
         Value("ratio", (0.3, 3.3), "erasing_ratio", "range", searchable=False)),
        "Random erasing (Zhong et al. 2020): a box of the image replaced by noise."),
    Row("recipe", "distill", "train.distill",
        (Value("teacher", None, "distill_teacher", "str", searchable=False), Value("temperature", 4.0, "distill_temperature", "float"),
         Value("alpha", 0.5, "distill_alpha", "float")),
        "Knowledge distillation (Hinton et al. 2015) from a trained model's predictions, computed once per image and cached."),
)}


def all_rows() -> tuple[Row, ...]:
    return (*OPTIMIZERS.values(), *SCHEDULES.values(), *RECIPES.values())


def optimizer_keys() -> tuple[str, ...]:
    """Every optimizer value's key under ``train``, once each, in table order."""
    return tuple(dict.fromkeys(v.key for r in OPTIMIZERS.values() for v in r.values))


def schedule_keys() -> tuple[str, ...]:
    """Every schedule value's key under ``train.schedule`` (warm-up apart), once each, in table order."""
    return tuple(dict.fromkeys(v.key for r in SCHEDULES.values() for v in r.values))


def searchable() -> dict[str, str]:
    """Search-space name -> the dotted spec key it sets, for every searchable value of the table."""
    out: dict[str, str] = {}
    for row in OPTIMIZERS.values():
        out.update({v.name: f"train.{v.key}" for v in row.values if v.searchable})
    out[WARMUP.name] = f"train.schedule.{WARMUP.key}"
    for row in (*SCHEDULES.values(), *RECIPES.values()):
        out.update({v.name: f"{row.block}.{v.key}" for v in row.values if v.searchable})
    return out


def recipe_of(name: str) -> Row | None:
    """The recipe row a search-space name belongs to (``None``: not a recipe's)."""
    return next((r for r in RECIPES.values() if any(v.name == name for v in r.values)), None)


def convert(value: Value, raw: Any) -> Any:
    """A trial's value as its kind says (a searched or YAML number as ``int`` or ``float``)."""
    if raw is None or value.kind in ("str", "bool", "range"):
        return raw
    return int(raw) if value.kind == "int" else float(raw)
