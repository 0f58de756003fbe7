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
Every value can be searched (``search.space``: momentum, nesterov, weight_decay,
warmup_epochs, lr_alpha, lr_step_epochs, lr_factor, lr_patience, lr_min).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ferbench._lazy import require
from ferbench.spec.build import OPTIMIZER_DEFAULTS, SCHEDULE_DEFAULTS
from ferbench.spec.types import Spec

if TYPE_CHECKING:
    import keras

#: ``train.schedule`` key -> the name of its value in a trial's hyperparameters (and in ``search.space``).
SCHEDULE_NAMES: Mapping[str, str] = {
    "alpha": "lr_alpha", "step_epochs": "lr_step_epochs", "factor": "lr_factor", "patience": "lr_patience",
    "min_learning_rate": "lr_min", "monitor": "lr_monitor", "min_delta": "lr_min_delta", "cooldown": "lr_cooldown",
}
_INT = {"warmup_epochs", "lr_step_epochs", "lr_patience", "lr_cooldown"}


def recipe_values(spec: Spec, params: Mapping[str, Any]) -> dict[str, Any]:
    """The trial's optimizer and schedule values that apply: its searched ``params`` over the spec's, defaults last."""
    tr, sched = spec.train, spec.train.schedule

    def pick(name: str, fixed: Any, default: Any) -> Any:
        value: Any = params.get(name, fixed)
        value = default if value is None else value
        if isinstance(value, (bool, str)):
            return value
        return int(value) if name in _INT else float(value)

    out: dict[str, Any] = {"optimizer": tr.optimizer}
    for key, default in OPTIMIZER_DEFAULTS[tr.optimizer].items():
        out[key] = pick(key, getattr(tr, key), default)
    out["schedule"] = sched.name
    out["warmup_epochs"] = pick("warmup_epochs", sched.warmup_epochs, 0)
    for key, default in SCHEDULE_DEFAULTS[sched.name].items():
        out[SCHEDULE_NAMES[key]] = pick(SCHEDULE_NAMES[key], getattr(sched, key), default)
    return out


def make_optimizer(hp: Mapping[str, Any]) -> Any:
    """Keras's optimizer for a trial's hyperparameters (Adam unless ``hp`` names another)."""
    keras = require("keras")
    lr = float(hp["learning_rate"])
    name = hp.get("optimizer", "adam")
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=float(hp["weight_decay"]))
    if name == "sgd":
        wd = float(hp.get("weight_decay") or 0.0)
        return keras.optimizers.SGD(learning_rate=lr, momentum=float(hp.get("momentum") or 0.0), nesterov=bool(hp.get("nesterov")),
                                    weight_decay=wd or None)
    raise ValueError(f"unknown optimizer {name!r}")


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
