"""The training-mode check of a trial's health: the same training images in training and in inference mode.

At the end of training a fixed sample of training images (chosen by the run's seed, no
augmentation) is scored twice: in training mode, batch by batch at the trial's batch
size, so its batch norms use the batch statistics as the training steps did; and in
inference mode, with the moving statistics the saved model keeps. A model whose moving
statistics never reached the data scores well the first way and like a constant the
second (:mod:`ferbench.results.health` judges the gap). The training-mode pass would move
the moving statistics, so they are put back afterwards. It costs two passes over at
most :data:`SAMPLE` images.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench._lazy import require
from ferbench.results.health import TrainCheck

if TYPE_CHECKING:
    import keras

#: Training images scored twice.
SAMPLE = 512


def sample_indices(n: int, seed: int, size: int = SAMPLE) -> np.ndarray:
    """The fixed sample: ``size`` distinct indices below ``n`` (all of them when fewer), ascending, from ``seed``."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def train_check(model: keras.Model, x: np.ndarray, y: np.ndarray, hp: Mapping[str, Any], seed: int) -> TrainCheck | None:
    """Accuracy of ``model`` on the fixed sample of ``(x, y)`` in training mode and in inference mode.

    ``None`` when the sample holds no full batch (training mode needs a batch's statistics).
    """
    from ferbench.run.train.inputs import eval_dataset

    batch = int(hp["batch_size"])
    idx = sample_indices(len(y), seed)
    idx = idx[: len(idx) // batch * batch]
    if len(idx) == 0:
        return None
    keras = require("keras")
    saved = [np.array(v.numpy()) for v in model.non_trainable_variables]  # moving statistics (and any other state)
    hits = {True: 0, False: 0}
    labels = np.asarray(y[idx], np.int64)
    try:
        for training in (True, False):
            start = 0
            for images, _ in eval_dataset(x[idx], labels, batch):
                pred = np.asarray(keras.ops.argmax(model(images, training=training), axis=-1))
                hits[training] += int(np.sum(pred == labels[start:start + len(pred)]))
                start += len(pred)
    finally:
        for v, value in zip(model.non_trainable_variables, saved):
            v.assign(value)
    return TrainCheck(len(idx), hits[True] / len(idx), hits[False] / len(idx))
