"""Keras callbacks of a trial: NaN guard, per-epoch bookkeeping, Optuna reports, progress.

This module imports Keras at the top; only :mod:`ferbench.run.train.trial` imports it,
and only when a trial is about to train.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench._lazy import require
from ferbench.results.metrics import balanced_accuracy, f1_macro
from ferbench.run.signals import raise_pending
from ferbench.track.base import NO_TRACKING, Tracker

require("keras")  # TensorFlow's start-up lines held back (see ferbench._lazy) before Keras imports it

import keras  # noqa: E402

if TYPE_CHECKING:
    import tensorflow as tf

    from ferbench.run.progress import Reporter


class SafeInterrupt(keras.callbacks.Callback):
    """Raise a Ctrl-C or SIGTERM noted during training between two steps (see :mod:`ferbench.run.signals`)."""

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        raise_pending()

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        raise_pending()

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        raise_pending()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        raise_pending()


class NanGuard(keras.callbacks.Callback):
    """Stop at the first batch whose loss is NaN or infinite and remember the epoch.

    Keras's ``TerminateOnNaN`` stops too, but forgets where; the record needs
    ``nan loss at epoch k``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.epoch: int | None = None  # 1-based epoch where the loss went non-finite
        self._current = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._current = epoch + 1

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.epoch = self._current
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # A NaN can also first show in validation (e.g. overflow at inference only).
        for key in ("loss", "val_loss"):
            v = (logs or {}).get(key)
            if v is not None and not math.isfinite(float(v)) and self.epoch is None:
                self.epoch = epoch + 1
                self.model.stop_training = True


class ValidationScores(keras.callbacks.Callback):
    """Add ``val_f1_macro`` and/or ``val_balanced_accuracy`` to each epoch's logs (on the validation split).

    Must come before the callbacks that read them (history, early stopping, Optuna).
    """

    def __init__(self, dataset: tf.data.Dataset, y_true: np.ndarray, num_classes: int,
                 names: tuple[str, ...] = ("val_f1_macro",)) -> None:
        super().__init__()
        self.dataset, self.y_true, self.num_classes, self.names = dataset, y_true, num_classes, names

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is None:
            return
        prob = self.model.predict(self.dataset, verbose=0)
        if "val_f1_macro" in self.names:
            logs["val_f1_macro"] = f1_macro(self.y_true, prob, self.num_classes)
        if "val_balanced_accuracy" in self.names:
            logs["val_balanced_accuracy"] = balanced_accuracy(self.y_true, prob, self.num_classes)


class EpochLog(keras.callbacks.Callback):
    """Per-epoch history (every logged metric plus ``lr``) and epoch wall times."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.seconds: list[float] = []
        self._t0 = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._t0 = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.seconds.append(time.monotonic() - self._t0)
        values = dict(logs or {})
        values.pop("learning_rate", None)  # Keras 3 may log it; kept once, as lr
        lr = self.model.optimizer.learning_rate
        values["lr"] = float(np.asarray(getattr(lr, "value", lr)))
        n = len(self.seconds)
        for k, v in values.items():
            seq = self.history.setdefault(k, [])
            seq.extend([float("nan")] * (n - 1 - len(seq)))  # a metric that appeared late
            seq.append(float(v))


class OptunaReport(keras.callbacks.Callback):
    """Report the objective after each epoch (step = epoch, 1-based) and honour the pruner.

    ``report(step, value) -> bool`` returns True when the pruner says stop; training
    then stops gracefully so early stopping can still restore the best weights.
    """

    def __init__(self, metric: str, report: Callable[[int, float], bool]) -> None:
        super().__init__()
        self.metric, self.report = metric, report
        self.pruned_at: int | None = None
        self.last_value: float | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get(self.metric)
        if value is None or not math.isfinite(float(value)):
            return  # NanGuard fails the trial; nothing meaningful to report
        self.last_value = float(value)
        if self.report(epoch + 1, float(value)):
            self.pruned_at = epoch + 1
            self.model.stop_training = True


class Progress(keras.callbacks.Callback):
    """Forward epoch and batch events to a :class:`ferbench.run.progress.Reporter`."""

    def __init__(self, reporter: Reporter, steps: int | None, tracker: Tracker = NO_TRACKING, trial: int = 0) -> None:
        super().__init__()
        self.reporter, self.steps, self.tracker, self.trial = reporter, steps, tracker, trial
        self._t0 = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._t0 = time.monotonic()
        self.reporter.epoch_started(epoch + 1, self.steps)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.reporter.batch_end(batch, logs or {})

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        shown = {k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"}
        self.reporter.epoch_end(epoch + 1, shown, time.monotonic() - self._t0)
        if self.tracker is not NO_TRACKING:
            tracked = {k: float(v) for k, v in (logs or {}).items()}
            if "learning_rate" not in tracked:  # the rate the epoch trained at (a schedule's callback may log it itself)
                with contextlib.suppress(TypeError, ValueError, AttributeError):
                    tracked["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.tracker.epoch_end(self.trial, epoch + 1, tracked)


class AfterWarmup(keras.callbacks.Callback):
    """Run ``inner`` (Keras's ``ReduceLROnPlateau``) only from the first epoch after the warm-up on.

    During the warm-up the learning rate rises on purpose; a plateau counted there
    would cut it before training proper starts.
    """

    def __init__(self, inner: keras.callbacks.Callback, warmup_epochs: int) -> None:
        super().__init__()
        self.inner, self.warmup = inner, warmup_epochs

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        self.inner.set_model(model)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.inner.on_train_begin(logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if epoch >= self.warmup:
            self.inner.on_epoch_end(epoch, logs)


#: The model attribute that holds a trial's EMA state (:class:`ferbench.run.train.recipes.ema.EmaState`).
EMA_STATE = "_ferbench_ema"


def _ema_state(model: keras.Model) -> Any:
    return getattr(model, EMA_STATE, None)


class EmaWeights(keras.callbacks.Callback):
    """``train.ema``: the average of the weights in the model for validation and for the callbacks at each
    epoch's end, the trained weights back for the next epoch; the model ends holding the average
    (see :mod:`ferbench.run.train.recipes.ema`)."""

    def __init__(self) -> None:
        super().__init__()
        self.trained: list[np.ndarray] | None = None

    def _show_average(self) -> None:
        state = _ema_state(self.model)
        if state is not None and self.trained is None:
            self.trained = [np.array(v.numpy()) for v in state.variables]
            for v, a in zip(state.variables, state.averages, strict=True):
                v.assign(a.numpy())

    def _show_trained(self) -> None:
        state = _ema_state(self.model)
        if state is not None and self.trained is not None:
            for v, w in zip(state.variables, self.trained, strict=True):
                v.assign(w)
        self.trained = None

    def on_test_begin(self, logs: Any = None) -> None:
        self._show_average()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self._show_average()

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._show_trained()

    def on_train_end(self, logs: Any = None) -> None:
        self._show_average()  # the model keeps the average (early stopping's best, restored after this, is one too)
        self.trained = None
