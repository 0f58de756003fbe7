"""The trial's Keras callbacks on a tiny dense model: NaN guard, pruning, per-epoch log."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from ferbench.run.train import callbacks as cb  # noqa: E402


def _fit(callbacks, *, nan: bool = False, epochs: int = 4):
    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    y = (x[:, 0] > 0.5).astype("int32")
    inputs = keras.Input((4,))
    out = keras.layers.Dense(2, activation="softmax")(inputs)
    if nan:
        out = keras.layers.Lambda(lambda t: t * float("nan"))(out)
    model = keras.Model(inputs, out)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, validation_data=(x, y), batch_size=8, epochs=epochs, verbose=0, callbacks=callbacks)
    return model


def test_nan_guard_stops_in_the_first_epoch() -> None:
    guard, log = cb.NanGuard(), cb.EpochLog()
    _fit([guard, log], nan=True)
    assert guard.epoch == 1
    assert len(log.seconds) == 1  # stopped after the batch that went NaN, within epoch 1


def test_pruning_stops_training_after_the_reported_epoch() -> None:
    reported = []

    def report(step: int, value: float) -> bool:
        reported.append((step, value))
        return step == 2

    pr, log = cb.OptunaReport("val_loss", report), cb.EpochLog()
    _fit([log, pr], epochs=5)
    assert [s for s, _ in reported] == [1, 2] and pr.pruned_at == 2
    assert pr.last_value == reported[-1][1] == log.history["val_loss"][1]
    assert log.history["lr"] == [pytest.approx(0.01)] * 2
    assert set(log.history) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}


def test_validation_f1_is_added_to_the_logs() -> None:
    x = np.random.default_rng(1).random((16, 4)).astype("float32")
    y = np.arange(16) % 2
    f1 = cb.ValidationScores(x, y, 2, ("val_f1_macro", "val_balanced_accuracy"))
    log = cb.EpochLog()
    _fit([f1, log], epochs=2)
    assert len(log.history["val_f1_macro"]) == 2
    assert all(0.0 <= v <= 1.0 for v in log.history["val_f1_macro"] + log.history["val_balanced_accuracy"])
