"""EMA of weights: an exponential moving average of the model's weights, updated every step in the train step.

After each optimizer step, every float weight of the model (batch-norm statistics
included, as timm averages them) moves its average: ``avg = d · avg + (1 − d) · w`` with
``d = min(decay, (1 + t) / (10 + t))`` at the ``t``-th update (TensorFlow's
``ExponentialMovingAverage`` with ``num_updates``), so a short run is not dominated by
its first, random weights; the average starts at the weights training starts from.
:class:`~ferbench.run.train.callbacks.EmaWeights` puts the average into the model for
validation and for the callbacks at the end of each epoch (F1 scores, early stopping's
best weights), and the trained weights back before the next epoch; the model ends
holding the average, so the scores, the saved model and the exported one are the average's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ferbench._lazy import require
from ferbench.run.train.recipes.base import Unit


class EmaState:
    """The averages of a model's float weights and the number of updates so far."""

    def __init__(self, model: Any, decay: float) -> None:
        tf = require("tensorflow")
        self.decay = float(decay)
        self.variables = [v for v in model.weights if "float" in str(v.dtype)]
        self.averages = [tf.Variable(tf.identity(v.value), trainable=False) for v in self.variables]
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False)

    def rate(self) -> Any:
        """This update's ``d``."""
        tf = require("tensorflow")
        t = tf.cast(self.updates, tf.float32)
        return tf.minimum(tf.constant(self.decay, tf.float32), (1.0 + t) / (10.0 + t))

    def update(self) -> None:
        """One step's update of every average (inside the compiled train step)."""
        tf = require("tensorflow")
        d = self.rate()
        for v, a in zip(self.variables, self.averages, strict=True):
            dv = tf.cast(d, a.dtype)
            a.assign(dv * a + (1 - dv) * tf.cast(v.value, a.dtype))
        self.updates.assign_add(1)


class Ema(Unit):
    block = "train.ema"

    def install(self, model: Any) -> Callable[[], None]:
        """Start the average at the model's weights; the update the train step calls after each step."""
        from ferbench.run.train.callbacks import EMA_STATE  # the callback finds the state on the model

        state = EmaState(model, float(self.hp["ema_decay"]))
        setattr(model, EMA_STATE, state)
        return state.update

    def callbacks(self) -> list[Any]:
        from ferbench.run.train.callbacks import EmaWeights

        return [EmaWeights()]
