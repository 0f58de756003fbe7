"""The training recipe of a trial: Keras's optimizer and the learning rate of every epoch.

``train.optimizer`` picks Keras's ``Adam`` (the default, built exactly as before
these keys existed), ``AdamW`` or ``SGD`` with ``momentum``, ``nesterov`` and
``weight_decay``. ``train.schedule`` gives the learning rate per epoch, after an
optional linear warm-up (epoch ``e < W`` at ``lr * (e + 1) / (W + 1)``):

- ``constant``: ``lr``;
- ``cosine``: Keras's ``CosineDecay(lr, decay_steps=max_epochs - W, alpha)`` at ``e - W``;
- ``step``: Keras's ``ExponentialDecay(lr, step_epochs, factor, staircase=True)`` at ``e - W``;
- ``plateau``: ``lr`` and Keras's ``ReduceLROnPlateau`` from the end of the warm-up on.

Schedules move once per epoch (as the recipes they follow step their schedulers),
through Keras's ``LearningRateScheduler`` callback, so ``history.csv``'s ``lr`` is the
rate each epoch trained at. Adam with a constant rate adds no callback at all.
Every value's key, default and search-space name is in the one table,
:mod:`ferbench.spec.recipes`; the recipes beyond optimizer and schedule (EMA, mixup,
CutMix, random erasing, distillation) are units of :mod:`ferbench.run.train.recipes`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ferbench._lazy import require
from ferbench.spec.recipes import OPTIMIZERS, RECIPES, SCHEDULES, WARMUP, Row, Value, convert
from ferbench.spec.types import Spec

if TYPE_CHECKING:
    import keras

#: ``train.schedule`` key -> the name of its value in a trial's hyperparameters (and in ``search.space``).
SCHEDULE_NAMES: Mapping[str, str] = {v.key: v.name for row in SCHEDULES.values() for v in row.values}

#: Keras's class of each optimizer of the table; a row's keys are the class's own arguments.
KERAS_OPTIMIZERS: Mapping[str, str] = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD"}


def _block(spec: Spec, dotted: str) -> Any:
    """The typed spec's object at a dotted key (``train.schedule``, ``augment.mixup``; ``None`` where off)."""
    node: Any = spec
    for part in dotted.split("."):
        node = getattr(node, part, None)
    return node


def _pick(params: Mapping[str, Any], value: Value, fixed: Any) -> Any:
    raw = params.get(value.name, fixed)
    return convert(value, value.default if raw is None else raw)


def _row_values(spec: Spec, params: Mapping[str, Any], row: Row) -> dict[str, Any]:
    """A row's values for a trial by hyperparameter name: searched over fixed over the table's default."""
    block, out = _block(spec, row.block), {}
    for v in row.values:
        picked = _pick(params, v, getattr(block, v.key, None))
        if v.kind == "range":
            out[f"{v.name}_min"], out[f"{v.name}_max"] = float(picked[0]), float(picked[1])
        else:
            out[v.name] = picked
    return out


def recipe_values(spec: Spec, params: Mapping[str, Any]) -> dict[str, Any]:
    """The trial's optimizer, schedule and recipe values that apply: its searched ``params`` over the spec's,
    the table's defaults last (:mod:`ferbench.spec.recipes`). A recipe that is off adds nothing."""
    tr, sched = spec.train, spec.train.schedule
    out: dict[str, Any] = {"optimizer": tr.optimizer, **_row_values(spec, params, OPTIMIZERS[tr.optimizer])}
    out["schedule"] = sched.name
    out[WARMUP.name] = _pick(params, WARMUP, sched.warmup_epochs)
    out.update(_row_values(spec, params, SCHEDULES[sched.name]))
    for row in RECIPES.values():
        if recipe_on(spec, row.block):
            out.update(_row_values(spec, params, row))
    return out


def recipe_on(spec: Spec, block: str) -> bool:
    """Whether the recipe of ``block`` (``train.ema``, ``augment.mixup``, ...) is on; augmentation's need ``augment.enabled``."""
    return _block(spec, block) is not None and (not block.startswith("augment.") or spec.augment.enabled)


def make_optimizer(hp: Mapping[str, Any]) -> Any:
    """Keras's optimizer for a trial's hyperparameters (Adam unless ``hp`` names another)."""
    keras = require("keras")
    name = str(hp.get("optimizer", "adam"))
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}")
    kwargs = {v.key: convert(v, hp.get(v.name, v.default)) for v in OPTIMIZERS[name].values}
    if name == "sgd":  # no decay at all rather than a decay of 0 (Keras's default)
        kwargs["weight_decay"] = kwargs["weight_decay"] or None
    return getattr(keras.optimizers, KERAS_OPTIMIZERS[name])(learning_rate=float(hp["learning_rate"]), **kwargs)


def epoch_rate(hp: Mapping[str, Any], max_epochs: int) -> Callable[[int, float], float] | None:
    """``(epoch, current rate) -> rate`` for Keras's ``LearningRateScheduler``, or ``None`` when the rate never moves
    (constant without warm-up) or only ``ReduceLROnPlateau`` moves it (plateau without warm-up)."""
    keras = require("keras")
    lr = float(hp["learning_rate"])
    warmup = int(hp.get("warmup_epochs") or 0)
    name = hp.get("schedule", "constant")
    decay: Any = None
    if name == "cosine":
        decay = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, max_epochs - warmup), alpha=float(hp["lr_alpha"]))
    elif name == "step":
        decay = keras.optimizers.schedules.ExponentialDecay(lr, decay_steps=int(hp["lr_step_epochs"]), decay_rate=float(hp["lr_factor"]),
                                                            staircase=True)
    if decay is None and not warmup:
        return None

    def rate(epoch: int, current: float) -> float:
        if epoch < warmup:
            return lr * (epoch + 1) / (warmup + 1)
        if decay is not None:
            return float(keras.ops.convert_to_numpy(decay(epoch - warmup)))
        return lr if epoch == warmup else float(current)  # constant, or plateau's own decays after the warm-up

    return rate


def lr_callbacks(hp: Mapping[str, Any], max_epochs: int) -> tuple[list[keras.callbacks.Callback], list[keras.callbacks.Callback]]:
    """The callbacks that move the learning rate: ``(at epoch begin, at epoch end)``.

    The second list goes after the callback that logs each epoch's rate, so the log
    holds the rate an epoch trained at, not the one the next epoch will.
    """
    keras = require("keras")
    from ferbench.run.train.callbacks import AfterWarmup

    begin: list[Any] = []
    end: list[Any] = []
    rate = epoch_rate(hp, max_epochs)
    if rate is not None:
        begin.append(keras.callbacks.LearningRateScheduler(rate, verbose=0))
    if hp.get("schedule") == "plateau":
        plateau = keras.callbacks.ReduceLROnPlateau(
            monitor=hp["lr_monitor"], factor=float(hp["lr_factor"]), patience=int(hp["lr_patience"]), verbose=0,
            min_delta=float(hp["lr_min_delta"]), cooldown=int(hp["lr_cooldown"]), min_lr=float(hp["lr_min"]),
            mode="min" if str(hp["lr_monitor"]).endswith("loss") else "max",
        )
        end.append(AfterWarmup(plateau, int(hp.get("warmup_epochs") or 0)))
    return begin, end
