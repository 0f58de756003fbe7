"""Stochastic weight averaging (Izmailov et al. 2018): the equal-weight average of the weights at the end of each
of the last ``swa_epochs`` epochs.

At the end of each epoch of the window (the last ``swa_epochs`` of the fit's epochs) every float weight of the
model, batch-norm statistics included (as :mod:`.ema` averages them, instead of the paper's extra pass over the
training data), joins a running mean: ``avg = avg + (w - avg) / n`` after the ``n``-th epoch. The average is put
into the model for validation and for the callbacks at that epoch's end (F1 scores, early stopping's best
weights), the trained weights back before the next epoch, and the model ends holding the average: the scores, the
saved model and the exported one are the average's. Before the window, the epochs are validated as they are.
Not with ``train.freeze`` (two fits; the check refuses it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ferbench.run.train.recipes.base import Unit


class SwaAverage:
    """The running mean of a model's float weights over the epochs averaged so far."""

    def __init__(self, variables: list[Any]) -> None:
        self.variables = variables
        self.averages: list[np.ndarray] | None = None
        self.count = 0

    def add(self) -> None:
        """The model's weights now join the mean."""
        weights = [np.array(v.numpy()) for v in self.variables]
        self.count += 1
        if self.averages is None:
            self.averages = weights
        else:
            self.averages = [a + (w - a) / self.count for a, w in zip(self.averages, weights, strict=True)]


def swa_callback(epochs: int) -> Any:
    """The Keras callback that keeps the average and shows it to validation (a class made here: Keras loads lazily)."""
    from ferbench._lazy import require

    keras = require("keras")

    class SwaWeights(keras.callbacks.Callback):  # type: ignore[misc,name-defined]
        def on_train_begin(self, logs: Any = None) -> None:
            self.swa = SwaAverage([v for v in self.model.weights if "float" in str(v.dtype)])
            self.start = max(int(self.params.get("epochs") or 0) - epochs, 0)
            self.trained: list[np.ndarray] | None = None
            self.epoch, self.added = -1, False

        def _show(self, weights: list[np.ndarray]) -> None:
            for v, w in zip(self.swa.variables, weights, strict=True):
                v.assign(w)

        def _average(self) -> None:
            """In the window, once per epoch: the weights join the average, which the model shows until the next epoch."""
            if self.epoch >= self.start and not self.added:
                self.trained = [np.array(v.numpy()) for v in self.swa.variables]
                self.swa.add()
                assert self.swa.averages is not None
                self._show(self.swa.averages)
                self.added = True

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            if self.trained is not None:
                self._show(self.trained)
                self.trained = None
            self.epoch, self.added = epoch, False

        def on_test_begin(self, logs: Any = None) -> None:  # validation at the end of an epoch
            self._average()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:  # without validation data, here
            self._average()

        def on_train_end(self, logs: Any = None) -> None:
            if self.swa.averages is not None:
                self._show(self.swa.averages)  # the model keeps the average (early stopping's best is one too)
            self.trained = None

    return SwaWeights()


class Swa(Unit):
    block = "train.swa"

    def callbacks(self) -> list[Any]:
        return [swa_callback(int(self.hp["swa_epochs"]))]
