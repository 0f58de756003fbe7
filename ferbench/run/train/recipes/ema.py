"""EMA of weights: Keras's optimizer keeps the average, this unit shows it to validation and keeps it.

Each step, after the update, the average of every trainable weight moves towards it:
``avg = decay avg + (1 - decay) w`` (the first step copies ``w``; Keras's
``use_ema``, compiled into the train step). :class:`~ferbench.run.train.callbacks.EmaWeights` puts the average into
the model for validation and for the callbacks at the end of each epoch (F1 scores,
early stopping's best weights), and the trained weights back before the next epoch; at
the end of fitting Keras writes the average into the model, so the scores, the saved
model and the exported one are the average's.
"""

from __future__ import annotations

from typing import Any

from ferbench.run.train.recipes.base import Unit


class Ema(Unit):
    block = "train.ema"

    def optimizer_options(self) -> dict[str, Any]:
        return {"use_ema": True, "ema_momentum": float(self.hp["ema_decay"])}

    def callbacks(self) -> list[Any]:
        from ferbench.run.train.callbacks import EmaWeights

        return [EmaWeights()]
