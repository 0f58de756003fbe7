"""One trial: build, train and evaluate a model for one set of hyperparameters.

Nothing here knows about Optuna: the study loop passes the trial's parameters,
its seed and a ``report(epoch, value) -> prune?`` function, and gets back a
:class:`~ferbench.run.records.TrialOutcome` (and the trained model, for ``best/``).
A trial that fails — NaN loss, an exception, out of memory — comes back as an
outcome with state ``failed`` and its error; it never raises, except on Ctrl-C.
"""

from __future__ import annotations

import gc
import math
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ferbench._lazy import require
from ferbench.run.metrics import metrics_block
from ferbench.run.progress import Reporter
from ferbench.run.records import TrialOutcome, utc_now
from ferbench.run.space import effective
from ferbench.spec.types import Spec

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class RunData:
    """A run's data in memory: the three splits and the loss's class weights."""

    classes: tuple[str, ...]
    x: Mapping[str, np.ndarray]  # split -> uint8 N×H×W×C
    y: Mapping[str, np.ndarray]  # split -> int64 N
    class_weight: np.ndarray | None

    def class_weight_dict(self) -> dict[str, float] | None:
        if self.class_weight is None:
            return None
        return {c: float(w) for c, w in zip(self.classes, self.class_weight)}


@dataclass(frozen=True)
class TrialSetup:
    """What every trial of a run shares."""

    spec: Spec
    data: RunData
    precision: str  # Keras dtype policy
    jit: bool
    reporter: Reporter
    steps_per_execution: int = 1


# --- input pipeline ---------------------------------------------------------------------


#: The pixel range ferbench's models take: like Keras's applications they rescale
#: inside, so a saved model needs no ferbench code to be used.
MODEL_INPUT_RANGE = (0.0, 255.0)


def with_one_hot(ds: Any, num_classes: int | None) -> Any:
    """Labels as one-hot vectors (label smoothing needs them); unchanged when ``None``."""
    if not num_classes:
        return ds
    tf = require("tensorflow")

    def adapt(x: Any, y: Any, *rest: Any) -> tuple[Any, ...]:
        return (x, tf.one_hot(tf.cast(y, tf.int32), num_classes), *rest)

    return ds.map(adapt, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def eval_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, *, one_hot: int | None = None) -> Any:
    """A split for validation or prediction, in the model's input range."""
    from ferbench.data import make_eval_dataset

    return with_one_hot(make_eval_dataset(x, y, batch_size=batch_size, value_range=MODEL_INPUT_RANGE), one_hot)


def train_input(setup: TrialSetup, model: Any, hp: Mapping[str, Any], seed: int, *, gpu: bool) -> Any:
    """The trial's training batches, in the model's input range, with class weights as sample weights.

    Where :func:`~ferbench.model.runtime.resolve_batches_in_step` says so (on a CPU, and
    on a GPU where the uint8 images fit) the images are held where the step runs and
    the pipeline delivers only indices and seeds; the model's train step gathers and
    augments each batch itself. Otherwise the tf.data pipeline gathers and augments,
    overlapping with the step. Both make the same batches.
    """
    from ferbench.data.pipeline import DeviceBatches, make_index_dataset, make_train_dataset
    from ferbench.model.runtime import resolve_batches_in_step

    spec, data = setup.spec, setup.data
    x, y = data.x["train"], data.y["train"]
    one_hot = spec.num_classes if float(hp["label_smoothing"]) > 0 else None
    common: dict[str, Any] = dict(batch_size=int(hp["batch_size"]), seed=seed, deterministic=spec.runtime.deterministic,
                                  class_weight=data.class_weight, shuffle=True)
    # XLA compiles the augmentation, except in deterministic runs: XLA generates code for
    # the CPU at hand (FMA where there is one), so its rounding can differ between machines.
    jit = not spec.runtime.deterministic
    if resolve_batches_in_step(on_gpu=gpu, nbytes=int(x.nbytes)):
        device = "/GPU:0" if gpu else None
        augment_in_step(model, DeviceBatches(x, augment=spec.augment, value_range=MODEL_INPUT_RANGE, device=device, jit=jit))
        ds = make_index_dataset(y, **common)
    else:
        ds = make_train_dataset(x, y, augment=spec.augment, value_range=MODEL_INPUT_RANGE, jit=jit, **common)
    return with_one_hot(ds, one_hot)


def augment_in_step(model: Any, batches: Callable[[Any, Any], Any]) -> None:
    """Make ``model``'s train step build its own images: ``((indices, seed), y[, w])`` -> ``(batches(indices, seed), y[, w])``.

    Call before ``fit``; evaluation and prediction are unchanged (they take images).
    """
    original = model.train_step

    def train_step(data: Any) -> Any:
        (indices, seed), *rest = data
        return original((batches(indices, seed), *rest))

    model.train_step = train_step


def predict_proba(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> np.ndarray:
    """Class probabilities (float32, N×K) of a model on one split."""
    prob = model.predict(eval_dataset(x, y, batch_size), verbose=0)
    return np.asarray(prob, dtype=np.float32)


# --- training ---------------------------------------------------------------------------


def _error_text(exc: BaseException) -> str:
    tf = require("tensorflow")
    first = (str(exc).strip().splitlines() or [""])[0][:400]
    if isinstance(exc, (tf.errors.ResourceExhaustedError, MemoryError)):
        return f"out of memory: {first or type(exc).__name__}"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _cost(spec: Spec, hp: Mapping[str, Any]) -> dict[str, int | None]:
    from ferbench.model.cost import model_cost

    try:
        c = model_cost(input_shape=spec.input_shape, num_classes=spec.num_classes, stages=spec.model.stages,
                       width=hp["width"], depth=hp["depth"], top_filters=hp["top_filters"])
    except Exception:  # an unbuildable configuration fails later, with the builder's message
        return {"params": None, "macs": None}
    return {"params": int(c.params), "macs": int(c.macs)}


def steps_per_execution(setup: TrialSetup, steps_per_epoch: int, *, gpu: bool) -> int:
    """Batches per compiled call: the spec's count, or for ``auto`` the device's default."""
    from ferbench.model.runtime import resolve_steps_per_execution

    value = setup.spec.runtime.steps_per_execution
    if not isinstance(value, (int, str)):  # a setup built without a spec value
        value = setup.steps_per_execution
    return resolve_steps_per_execution(value, on_gpu=gpu, steps_per_epoch=steps_per_epoch)


def _compile(setup: TrialSetup, model: Any, hp: Mapping[str, Any], steps_per_execution: int | None = None) -> None:
    keras = require("keras")
    smoothing = float(hp["label_smoothing"])
    if smoothing > 0:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
        acc = keras.metrics.CategoricalAccuracy(name="accuracy")
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        acc = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=float(hp["learning_rate"])), loss=loss,
                  metrics=[acc], jit_compile=setup.jit,
                  steps_per_execution=setup.steps_per_execution if steps_per_execution is None else steps_per_execution)


def build_for(setup: TrialSetup, hp: Mapping[str, Any]) -> Any:
    """The trial's model, under the run's precision policy."""
    from ferbench.model.build import build_model
    from ferbench.model.runtime import apply_precision

    spec = setup.spec
    apply_precision(setup.precision)
    return build_model(input_shape=spec.input_shape, num_classes=spec.num_classes, stages=spec.model.stages,
                       width=hp["width"], depth=hp["depth"], top_filters=int(hp["top_filters"]),
                       dropout=hp["dropout"], drop_connect=hp["drop_connect"])


def run_trial(setup: TrialSetup, *, number: int, params: Mapping[str, Any], seed: int,
              report: Callable[[int, float], bool]) -> tuple[TrialOutcome, Any | None]:
    """Train and evaluate one trial. Returns its outcome and model (None unless complete or pruned)."""
    from ferbench.model.runtime import on_gpu
    from ferbench.run import callbacks as cb
    from ferbench.run.seeding import seed_trial

    keras = require("keras")
    spec, data = setup.spec, setup.data
    hp = effective(spec, params)
    smoothing = float(hp["label_smoothing"])
    one_hot = spec.num_classes if smoothing > 0 else None
    started = utc_now()
    outcome = TrialOutcome(
        number=number, state="failed", error=None, params=dict(params), hyperparameters=hp, cost=_cost(spec, hp),
        history={}, best_epoch=None, objective=None, metrics=None, class_weight=data.class_weight_dict(),
        train_s=0.0, eval_s=0.0, epoch_s=[], seed=seed, started=started, finished=started,
    )
    model = None
    epoch_log = cb.EpochLog()
    guard = cb.NanGuard()
    optuna_cb = cb.OptunaReport(spec.search.metric, report)
    t0 = time.monotonic()
    try:
        seed_trial(seed, deterministic=spec.runtime.deterministic)
        model = build_for(setup, hp)
        batch = int(hp["batch_size"])
        steps = math.ceil(len(data.y["train"]) / batch)
        gpu = on_gpu()
        _compile(setup, model, hp, steps_per_execution(setup, steps, gpu=gpu))
        train = train_input(setup, model, hp, seed, gpu=gpu)
        val = eval_dataset(data.x["validation"], data.y["validation"], spec.train.eval_batch_size, one_hot=one_hot)
        callbacks: list[Any] = []
        if spec.search.metric == "val_f1_macro":
            val_plain = eval_dataset(data.x["validation"], data.y["validation"], spec.train.eval_batch_size)
            callbacks.append(cb.ValidationF1(val_plain, data.y["validation"], spec.num_classes))
        callbacks += [guard, epoch_log]
        stopper = None
        es = spec.train.early_stopping
        if es is not None:
            stopper = keras.callbacks.EarlyStopping(monitor=es.monitor, patience=es.patience, min_delta=es.min_delta,
                                                    restore_best_weights=es.restore_best_weights,
                                                    mode="min" if es.monitor.endswith("loss") else "max")
            callbacks.append(stopper)
        callbacks += [optuna_cb, cb.Progress(setup.reporter, steps)]
        # shuffle=False: the pipeline already shuffles, seeded (Keras would only warn).
        model.fit(train, validation_data=val, epochs=spec.train.max_epochs, callbacks=callbacks, verbose=0, shuffle=False)
        outcome.train_s = time.monotonic() - t0
        outcome.history, outcome.epoch_s = epoch_log.history, epoch_log.seconds
        if guard.epoch is not None:
            raise _NanLoss(f"nan loss at epoch {guard.epoch}")
        trained = len(epoch_log.seconds)
        if stopper is not None and es is not None and es.restore_best_weights and trained:
            outcome.best_epoch = int(stopper.best_epoch) + 1
        else:
            outcome.best_epoch = trained or None
        values = epoch_log.history.get(spec.search.metric, [])
        if optuna_cb.pruned_at is not None:
            outcome.state = "pruned"
            outcome.objective = optuna_cb.last_value  # what Optuna keeps for a pruned trial
        else:
            outcome.state = "complete"
            i = (outcome.best_epoch or 0) - 1
            outcome.objective = float(values[i]) if 0 <= i < len(values) else None
            if outcome.objective is None or not math.isfinite(outcome.objective):
                raise _NanLoss(f"no finite {spec.search.metric} at epoch {outcome.best_epoch}")
        t1 = time.monotonic()
        evaluate_into(outcome, model, data, spec.train.eval_batch_size)
        outcome.eval_s = time.monotonic() - t1
    except KeyboardInterrupt:
        raise
    except _NanLoss as exc:
        outcome.state, outcome.error, outcome.metrics, outcome.predictions = "failed", str(exc), None, None
        model = None
    except Exception as exc:  # the trial fails; the study goes on
        outcome.state, outcome.error, outcome.metrics, outcome.predictions = "failed", _error_text(exc), None, None
        outcome.history, outcome.epoch_s = epoch_log.history, epoch_log.seconds
        outcome.train_s = outcome.train_s or (time.monotonic() - t0)
        outcome.traceback = traceback.format_exc()
        model = None
    outcome.finished = utc_now()
    return outcome, model


class _NanLoss(Exception):
    pass


def evaluate_into(outcome: TrialOutcome, model: Any, data: RunData, batch_size: int) -> None:
    """Predict validation and test, fill the outcome's metrics and predictions."""
    metrics, preds = {}, {}
    for split in ("validation", "test"):
        prob = predict_proba(model, data.x[split], data.y[split], batch_size)
        y = np.asarray(data.y[split], dtype=np.int64)
        metrics[split] = metrics_block(y, prob, data.classes)
        preds[f"{split}_y_true"], preds[f"{split}_y_prob"] = y, prob
    outcome.metrics, outcome.predictions = metrics, preds


def save_model(model: Any, path: Any) -> None:
    """Save a trained model as plain Keras: ``keras.models.load_model`` reads it without ferbench."""
    from ferbench.model.layers import to_keras

    to_keras(model).save(path)


def release(model: Any | None = None) -> None:
    """Free a trial's graph and memory before the next one is built."""
    keras = require("keras")
    del model
    keras.backend.clear_session()
    gc.collect()
