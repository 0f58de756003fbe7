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
#: Images per training-mode call, at least.
CHUNK = 128


def sample_indices(n: int, seed: int, size: int = SAMPLE) -> np.ndarray:
    """The fixed sample: ``size`` distinct indices below ``n`` (all of them when fewer), ascending, from ``seed``."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def train_check(model: keras.Model, x: np.ndarray, y: np.ndarray, hp: Mapping[str, Any], seed: int) -> TrainCheck | None:
    """Accuracy of ``model`` on the fixed sample of ``(x, y)`` in training mode and in inference mode.

    Training mode runs in chunks of the trial's batch size, or :data:`CHUNK` images where
    that is larger (batch statistics of a larger batch are as good, and fewer calls are
    cheaper); ``None`` when the sample holds no full chunk.
    """
    from ferbench.run.train.inputs import predict_proba

    chunk = max(int(hp["batch_size"]), CHUNK)
    idx = sample_indices(len(y), seed)
    if len(idx) < chunk:
        chunk = int(hp["batch_size"])
    idx = idx[: len(idx) // chunk * chunk]
    if len(idx) == 0:
        return None
    keras = require("keras")
    images, labels = x[idx], np.asarray(y[idx], np.int64)
    saved = [np.array(v.numpy()) for v in model.non_trainable_variables]  # the moving statistics
    try:
        hits = 0
        for start in range(0, len(idx), chunk):
            batch = keras.ops.convert_to_tensor(to_model_range(images[start:start + chunk]))
            hits += int(np.sum(np.asarray(keras.ops.argmax(model(batch, training=True), axis=-1)) == labels[start:start + chunk]))
    finally:
        for v, value in zip(model.non_trainable_variables, saved):
            v.assign(value)
    inference = predict_proba(model, images, labels, chunk).argmax(axis=1)
    return TrainCheck(len(idx), hits / len(idx), float(np.mean(inference == labels)))


def to_model_range(images: np.ndarray) -> np.ndarray:
    """uint8 images as float32 in the range the model takes (what the evaluation pipeline gives it)."""
    from ferbench.run.train.inputs import MODEL_INPUT_RANGE

    low, high = MODEL_INPUT_RANGE
    scaled: np.ndarray = images.astype(np.float32) * np.float32(1.0 / 255.0) * np.float32(high - low) + np.float32(low)
    return scaled.astype(np.float32)
