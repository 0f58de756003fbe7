"""SavedModel files: Keras's ``Model.export`` (a ``serve`` endpoint), run through ``tf.saved_model.load``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ferbench._lazy import native_output_held, require

if TYPE_CHECKING:
    import keras

Predict = Callable[[np.ndarray], np.ndarray]


def write_saved_model(model: keras.Model, target: Path) -> list[Path]:
    """Export ``model`` to the folder ``target`` (staged beside it, then moved in); the files written."""
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".saved_model-") as tmp:
        staged = Path(tmp) / "saved_model"
        with native_output_held():
            model.export(str(staged), format="tf_saved_model", verbose=False)
        if target.exists():
            shutil.rmtree(target)  # a half-made folder of an export that died: its record was never written
        os.replace(staged, target)
    return sorted(p for p in target.rglob("*") if p.is_file())


def saved_model_predict(folder: Path, batch_size: int) -> tuple[Predict, Callable[[np.ndarray], np.ndarray]]:
    """``(predict on uint8 images in batches, one call on a float32 batch)`` through a loaded SavedModel."""
    tf = require("tensorflow")
    loaded = tf.saved_model.load(str(folder))  # held by the closure: its variables die with it

    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(loaded.serve(tf.constant(x)).numpy(), dtype=np.float32)

    def predict(x: np.ndarray) -> np.ndarray:
        return np.concatenate([call(np.asarray(x[i:i + batch_size], np.float32)) for i in range(0, len(x), batch_size)])

    return predict, call
