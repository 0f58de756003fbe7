"""The batch recipes inside the train step, and the random numbers the input pipeline draws for them.

The pipeline adds to each batch its recipes' draws (from a stateless seed pair that
changes every batch and epoch, the same for the same trial seed): ``(x, y[, w])`` becomes
``((x, draws), y[, w])``. After the optimizer's step the step calls the units' updates (EMA's). The train step applies the units in order to the batch it is
given (after the gather and the augmentation where those run in the step), so the
recipes run where the augmentation does: compiled with the step, on the CPU or the GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ferbench._lazy import require
from ferbench.run.train.recipes.base import Unit

if TYPE_CHECKING:
    import tensorflow as tf
    from tensorflow import Tensor


class BatchRecipes:
    """The in-step units of a trial, their draws and their application."""

    def __init__(self, units: Sequence[Unit], seed: int) -> None:
        self.units = [u for u in units if u.in_step]
        self.seed = seed
        self.after: list[Callable[[], None]] = []

    def __bool__(self) -> bool:
        return bool(self.units)

    def install(self, model: Any, units: Sequence[Unit]) -> None:
        """Set every unit up on the model; keep what the step calls after each step (EMA's update)."""
        self.after = [f for f in (u.install(model) for u in units) if f is not None]

    def after_step(self) -> None:
        for f in self.after:
            f()

    def draw(self, seed: Tensor, batch: Tensor) -> tuple[tuple[Tensor, ...], ...]:
        """Every unit's draws for one batch of ``batch`` images from one seed pair."""
        tf = require("tensorflow")
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=len(self.units))
        return tuple(u.draws(tf, seeds[i], batch) for i, u in enumerate(self.units))

    def with_draws(self, ds: tf.data.Dataset) -> tf.data.Dataset:
        """``(x, y[, w])`` batches as ``((x, draws), y[, w])``."""
        tf = require("tensorflow")
        seeds = tf.data.Dataset.random(seed=self.seed + 7919, rerandomize_each_iteration=True).batch(2)

        def add(batch: tuple[Tensor, ...], seed: Tensor) -> tuple[Any, ...]:
            x, y, *rest = batch
            return ((x, self.draw(seed, tf.shape(y)[0])), y, *rest)

        return tf.data.Dataset.zip((ds, seeds)).map(add, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def apply(self, x: Tensor, rest: Sequence[Tensor], draws: tuple[tuple[Tensor, ...], ...]) -> tuple[Tensor, list[Tensor]]:
        """The batch after every unit: images and ``[labels[, weights]]``."""
        tf = require("tensorflow")
        y = tf.cast(rest[0], tf.float32)
        w = tf.cast(rest[1], tf.float32) if len(rest) > 1 else None
        batch = (tf.cast(x, tf.float32), y, w)
        for unit, d in zip(self.units, draws, strict=True):
            batch = unit.apply(tf, batch, d)
        x, y, w = batch
        return x, [y] if w is None else [y, w]
