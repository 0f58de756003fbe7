"""A trial's input pipeline: training batches, evaluation batches and predictions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench._lazy import require

if TYPE_CHECKING:
    import keras
    import tensorflow as tf
    from tensorflow import Tensor

    from ferbench.run.train.recipes.step import BatchRecipes
    from ferbench.run.train.setup import TrialSetup

#: The pixel range ferbench's models take: like Keras's applications they rescale
#: inside, so a saved model needs no ferbench code to be used.
MODEL_INPUT_RANGE = (0.0, 255.0)


def one_hot_classes(setup: TrialSetup, hp: Mapping[str, Any]) -> int | None:
    """The number of classes when labels are vectors (label smoothing, FER+ soft targets, a recipe that
    mixes labels or distils), else ``None``."""
    from ferbench.run.train.recipes import needs_vectors, units_for

    soft = setup.data.soft_train is not None
    vectors = float(hp["label_smoothing"]) > 0 or soft or needs_vectors(units_for(setup.spec, hp))
    return setup.spec.num_classes if vectors else None


def with_targets(ds: tf.data.Dataset, soft: np.ndarray, class_weight: np.ndarray | None, *, sample: bool, seed: int) -> tf.data.Dataset:
    """Batches of ``(inputs, sample ids)`` as ``(inputs, targets[, sample_weight])``: each sample's
    FER+ target, or (``sample``: the probability scheme) a one-hot label drawn from it, a fresh draw
    each batch and epoch, the same for the same ``seed``. Weights follow the target's top class."""
    tf = require("tensorflow")
    table = tf.constant(np.asarray(soft, np.float32))
    weights = None if class_weight is None else tf.constant(np.asarray(class_weight, np.float32))

    def adapt(count: Tensor, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, ...]:
        x, ids = batch
        t = tf.gather(table, tf.cast(ids, tf.int32))
        if sample:
            pair = tf.stack([tf.constant(seed, tf.int64), count * 1_000_003 + tf.cast(ids[0], tf.int64)])
            drawn = tf.random.stateless_categorical(tf.math.log(t + 1e-12), 1, seed=pair)[:, 0]
            t = tf.one_hot(drawn, soft.shape[1])
        if weights is None:
            return x, t
        return x, t, tf.gather(weights, tf.argmax(t, axis=-1))

    return ds.enumerate().map(adapt, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def with_one_hot(ds: tf.data.Dataset, num_classes: int | None) -> tf.data.Dataset:
    """Labels as one-hot vectors (label smoothing needs them); unchanged when ``None``."""
    if not num_classes:
        return ds
    tf = require("tensorflow")

    def adapt(x: Tensor, y: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        return (x, tf.one_hot(tf.cast(y, tf.int32), num_classes), *rest)

    return ds.map(adapt, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def eval_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, *, one_hot: int | None = None) -> tf.data.Dataset:
    """A split for validation or prediction, in the model's input range."""
    from ferbench.data import make_eval_dataset

    return with_one_hot(make_eval_dataset(x, y, batch_size=batch_size, value_range=MODEL_INPUT_RANGE), one_hot)


def train_input(setup: TrialSetup, model: keras.Model, hp: Mapping[str, Any], seed: int, *,
                gpu: bool) -> tf.data.Dataset:
    """The trial's training batches, in the model's input range, with class weights as sample weights;
    full batches only (the last partial one is dropped).

    Where :func:`~ferbench.model.runtime.resolve_batches_in_step` says so (on a CPU, and
    on a GPU where the uint8 images fit) the images are held where the step runs and
    the pipeline delivers only indices and seeds; the model's train step gathers and
    augments each batch itself (a memory-mapped split, one over ``runtime.memory_mb``,
    is read from the cache file per batch). Otherwise (also for a mapped split on a GPU
    or under XLA) the tf.data pipeline gathers and augments, overlapping with the step.
    Both make the same batches. The batch recipes (mixup,
    CutMix, random erasing) run in the train step either way, on the pipeline's draws.
    """
    from ferbench.data.pipeline import DeviceBatches, make_index_dataset, make_train_dataset
    from ferbench.model.runtime import resolve_batches_in_step
    from ferbench.run.train.recipes import find, units_for
    from ferbench.run.train.recipes.distill import Distill
    from ferbench.run.train.recipes.step import BatchRecipes

    spec, data = setup.spec, setup.data
    units = units_for(spec, hp, MODEL_INPUT_RANGE)
    distill = find(units, Distill)
    x, y = data.x["train"], data.y["train"]
    one_hot = one_hot_classes(setup, hp)
    soft = data.soft_train
    ids = soft is not None or distill is not None
    if ids:  # FER+ targets, a teacher's: the pipeline carries sample ids, turned into targets below
        y = np.arange(len(y))
    # One static batch shape: a last partial batch is dropped (a different sample each epoch,
    # as the order is shuffled). See ferbench.run.train.trial.steps_per_epoch for why.
    common: dict[str, Any] = dict(batch_size=int(hp["batch_size"]), seed=seed, deterministic=spec.runtime.deterministic,
                                  class_weight=None if ids else data.class_weight, shuffle=True, drop_remainder=True)
    # XLA compiles the augmentation, except in deterministic runs: XLA generates code for
    # the CPU at hand (FMA where there is one), so its rounding can differ between machines.
    jit = not spec.runtime.deterministic
    batches = None
    mapped = isinstance(x, np.memmap)  # over runtime.memory_mb: read per batch, on the CPU in the step, else in the pipeline
    if resolve_batches_in_step(on_gpu=gpu, nbytes=int(x.nbytes)) and not (mapped and (gpu or setup.jit)):
        device = "/GPU:0" if gpu else None
        batches = DeviceBatches(x, augment=spec.augment, value_range=MODEL_INPUT_RANGE, device=device, jit=jit)
        ds = make_index_dataset(y, **common)
    else:
        ds = make_train_dataset(x, y, augment=spec.augment, value_range=MODEL_INPUT_RANGE, jit=jit, **common)
    if distill is not None:
        ds = distill.targets(setup, ds, *_targets(setup))
    elif soft is not None:
        ds = with_targets(ds, soft, data.class_weight, sample=data.labels_mode == "probability", seed=seed)
    else:
        ds = with_one_hot(ds, one_hot)
    recipes = BatchRecipes(units, seed)
    recipes.install(model, units)
    if recipes:
        ds = recipes.with_draws(ds)
    if recipes or recipes.after:
        augment_in_step(model, batches, recipes)
    elif batches is not None:
        augment_in_step(model, batches)
    return ds


def _targets(setup: TrialSetup) -> tuple[np.ndarray, np.ndarray | None]:
    """Each training image's label vector and class weight (the weight of its top class), for a teacher's targets."""
    from ferbench.errors import FerbenchError

    data, k = setup.data, setup.spec.num_classes
    if data.soft_train is not None and data.labels_mode == "probability":
        raise FerbenchError("train.distill does not take dataset.labels_mode: probability (a label drawn per batch); "
                            "use majority, crossentropy or multi_target")
    targets = data.soft_train if data.soft_train is not None else np.eye(k, dtype=np.float32)[data.y["train"]]
    top = np.argmax(targets, axis=1)
    return np.asarray(targets, np.float32), None if data.class_weight is None else np.asarray(data.class_weight)[top]


def augment_in_step(model: keras.Model, batches: Callable[[Tensor, Tensor], Tensor] | None,
                    recipes: BatchRecipes | None = None) -> None:
    """Make ``model``'s train step build its own batches: with ``batches``, ``((indices, seed), y[, w])`` ->
    ``(batches(indices, seed), y[, w])``; with ``recipes``, ``((x, draws), y[, w])`` -> the batch after them
    (where it has batch recipes), and their updates after the optimizer's step.

    Call before ``fit``; evaluation and prediction are unchanged (they take images).
    """
    original = model.train_step

    def train_step(data: tuple[Any, ...]) -> dict[str, Tensor]:
        x, *rest = data
        draws = None
        if recipes:  # batch recipes: the pipeline added their draws
            x, draws = x
        if batches is not None:
            x = batches(*x)
        if recipes and draws is not None:
            x, rest = recipes.apply(x, rest, draws)
        logs: dict[str, Tensor] = original((x, *rest))
        if recipes is not None:
            recipes.after_step()
        return logs

    model.train_step = train_step


def predict_proba(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int) -> np.ndarray:
    """Class probabilities (float32, N×K) of a model on one split; a stop asked for is honoured between batches."""
    from ferbench.run.train.callbacks import SafeInterrupt

    prob = model.predict(eval_dataset(x, y, batch_size), verbose=0, callbacks=[SafeInterrupt()])
    return np.asarray(prob, dtype=np.float32)
