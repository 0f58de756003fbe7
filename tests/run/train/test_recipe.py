"""Training recipes: Keras's optimizers as the spec names them, and the learning rate of every epoch
checked against Keras's own schedules (CosineDecay, ExponentialDecay, ReduceLROnPlateau)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from ferbench.run.train import callbacks as cb  # noqa: E402
from ferbench.run.train.recipe import epoch_rate, lr_callbacks, make_optimizer, recipe_values  # noqa: E402
from ferbench.spec import load_spec  # noqa: E402


def _fit(hp: dict[str, Any], epochs: int, *, y_noise: bool = False) -> cb.EpochLog:
    """Train a tiny dense model with the recipe's optimizer and callbacks; the per-epoch log."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((64, 4)).astype("float32")
    y = rng.integers(0, 2, 64) if y_noise else (x[:, 0] > 0.5).astype("int32")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    model.compile(make_optimizer(hp), "sparse_categorical_crossentropy", metrics=["accuracy"])
    log = cb.EpochLog()
    begin, end = lr_callbacks(hp, epochs)
    model.fit(x, y, validation_data=(x[:16], y[:16]), batch_size=16, epochs=epochs, verbose=0, callbacks=[*begin, log, *end])
    return log


def _keras(schedule: Any, step: int) -> float:
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_cosine_with_warmup_follows_keras_cosine_decay_per_epoch() -> None:
    hp = {"learning_rate": 0.1, "optimizer": "sgd", "momentum": 0.9, "nesterov": True, "weight_decay": 0.0,
          "schedule": "cosine", "warmup_epochs": 2, "lr_alpha": 0.1}
    log = _fit(hp, epochs=8)
    cosine = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=8 - 2, alpha=0.1)
    want = [0.1 * 1 / 3, 0.1 * 2 / 3] + [_keras(cosine, e) for e in range(6)]
    assert log.history["lr"] == pytest.approx(want, rel=1e-6)
    assert want[2] == pytest.approx(0.1) and want[-1] > 0.1 * 0.1  # the floor (alpha) is reached at step 6, after the last epoch


def test_step_follows_keras_exponential_decay_with_staircase() -> None:
    hp = {"learning_rate": 0.05, "optimizer": "adam", "schedule": "step", "warmup_epochs": 0, "lr_step_epochs": 2, "lr_factor": 0.5}
    log = _fit(hp, epochs=6)
    step = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5, staircase=True)
    assert log.history["lr"] == pytest.approx([_keras(step, e) for e in range(6)], rel=1e-6)
    assert log.history["lr"] == pytest.approx([0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125], rel=1e-6)


def test_plateau_follows_keras_reduce_lr_on_plateau_after_warmup() -> None:
    """Replay the logged validation loss through Keras's own ReduceLROnPlateau: the same rate every epoch."""
    hp = {"learning_rate": 0.02, "optimizer": "sgd", "momentum": 0.0, "nesterov": False, "weight_decay": 0.0, "schedule": "plateau",
          "warmup_epochs": 1, "lr_factor": 0.5, "lr_patience": 0, "lr_monitor": "val_loss", "lr_min_delta": 10.0, "lr_cooldown": 0,
          "lr_min": 0.0}
    log = _fit(hp, epochs=5, y_noise=True)
    # min_delta 10: after the first epoch it watches, no epoch counts as an improvement; with patience 0 each then decays.
    inputs = keras.Input((1,))
    shadow = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    shadow.compile(keras.optimizers.SGD(0.02), "mse")
    keras_plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=0, min_delta=10.0, verbose=0)
    keras_plateau.set_model(shadow)
    keras_plateau.on_train_begin()
    want = [0.02 / 2]  # the warm-up epoch: lr x 1/2
    shadow.optimizer.learning_rate = 0.02  # after the warm-up, the full rate
    for e in range(1, 5):
        want.append(float(keras.ops.convert_to_numpy(shadow.optimizer.learning_rate)))
        keras_plateau.on_epoch_end(e, {"val_loss": log.history["val_loss"][e]})
    assert log.history["lr"] == pytest.approx(want, rel=1e-6)
    assert log.history["lr"][1:] == pytest.approx([0.02, 0.02, 0.01, 0.005], rel=1e-6)


def test_adam_with_a_constant_rate_adds_no_callback_and_builds_plain_adam() -> None:
    """The default recipe is today's: Keras's Adam at the trial's rate, nothing moving it."""
    hp = {"learning_rate": 0.003, "optimizer": "adam", "schedule": "constant", "warmup_epochs": 0}
    assert lr_callbacks(hp, 10) == ([], [])
    assert epoch_rate(hp, 10) is None
    opt = make_optimizer(hp)
    plain = keras.optimizers.Adam(learning_rate=0.003).get_config()
    assert type(opt) is keras.optimizers.Adam and {**opt.get_config(), "name": None} == {**plain, "name": None}
    assert type(make_optimizer({"learning_rate": 0.003})) is keras.optimizers.Adam  # hyperparameters without a recipe: Adam


def test_sgd_and_adamw_take_the_recipe_values() -> None:
    sgd = make_optimizer({"learning_rate": 0.01, "optimizer": "sgd", "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4})
    cfg = sgd.get_config()
    assert type(sgd) is keras.optimizers.SGD and cfg["momentum"] == pytest.approx(0.9) and cfg["nesterov"] is True
    assert cfg["weight_decay"] == pytest.approx(1e-4)
    assert make_optimizer({"learning_rate": 0.01, "optimizer": "sgd", "momentum": 0.0, "nesterov": False, "weight_decay": 0.0}).get_config()["weight_decay"] is None
    adamw = make_optimizer({"learning_rate": 0.001, "optimizer": "adamw", "weight_decay": 0.05})
    assert type(adamw) is keras.optimizers.AdamW and adamw.get_config()["weight_decay"] == pytest.approx(0.05)


def test_recipe_values_take_searched_values_over_the_spec_and_keras_defaults_last(tmp_path: Path) -> None:
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(
        "ferbench: 1\nname: s\ndataset: {kind: synthetic}\n"
        "train: {optimizer: sgd, nesterov: true, schedule: {name: plateau, patience: 3}}\n"
        "search: {space: {momentum: {float: [0.5, 0.99]}, lr_factor: {float: [0.1, 0.9]}}}\n", encoding="utf-8")
    spec = load_spec(spec_file)
    assert spec.train.momentum is None and spec.train.schedule.factor is None  # searched: not in the spec
    got = recipe_values(spec, {"momentum": 0.8, "lr_factor": 0.3})
    assert got == {"optimizer": "sgd", "momentum": 0.8, "nesterov": True, "weight_decay": 0.0, "schedule": "plateau",
                   "warmup_epochs": 0, "lr_factor": 0.3, "lr_patience": 3, "lr_monitor": "val_loss", "lr_min_delta": 1e-4,
                   "lr_cooldown": 0, "lr_min": 0.0}
    assert isinstance(got["lr_patience"], int) and not math.isnan(got["lr_min_delta"])


def test_a_trial_records_its_recipe_and_the_rate_of_each_epoch(tmp_path: Path) -> None:
    """Through the real trial: hyperparameters name the recipe, history.csv holds each epoch's rate."""
    pytest.importorskip("optuna")
    from runspecs import write_spec

    from ferbench.results import load_run
    from ferbench.run.progress import PlainReporter
    from ferbench.run.runner import run_spec

    path = write_spec(tmp_path, trials=1, epochs=4, space="    width: {choices: [0.2]}\n")
    text = path.read_text().replace("train: {batch_size: 16,", "train: {optimizer: sgd, momentum: 0.9, learning_rate: 0.04, "
                                                           "schedule: {name: step, step_epochs: 1, factor: 0.5}, batch_size: 16,")
    text = text.replace("early_stopping: {monitor: val_loss, patience: 1}", "early_stopping: null")
    path.write_text(text)
    (result,) = run_spec(path, reporter=PlainReporter(io.StringIO()))
    run = load_run(result.folder)
    (trial,) = run.trials
    assert trial.hyperparameters["optimizer"] == "sgd" and trial.hyperparameters["momentum"] == 0.9
    assert trial.hyperparameters["schedule"] == "step" and trial.hyperparameters["lr_factor"] == 0.5
    history = (result.folder / "trials" / "0000" / "history.csv").read_text().splitlines()
    lr = [float(line.split(",")[5]) for line in history[1:]]
    assert lr == pytest.approx([0.04, 0.02, 0.01, 0.005], rel=1e-6)
