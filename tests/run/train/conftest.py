"""Fixtures shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained small Keras model on the tiny specs' input (32x32 grayscale, 7 classes): what distillation
    needs of a teacher is its predictions."""
    import keras

    keras.utils.set_random_seed(2)
    inputs = keras.Input((32, 32, 1))
    h = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.GlobalAveragePooling2D()(h)))
    path = tmp_path_factory.mktemp("teacher") / "teacher.keras"
    model.save(path)
    return path
