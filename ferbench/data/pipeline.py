"""The tf.data input pipeline: seeded shuffle, per-batch augmentation, prefetch.

Augmentation lives here, not in the model: preprocessing layers inside a model
turn XLA off and run once per layer. Per batch, flip, rotation, translation and
zoom are composed into one affine matrix per image and applied with a single
``ImageProjectiveTransformV3`` (one interpolation, not four, which also keeps the
image sharper), followed by elementwise contrast and brightness. There is no
Python work per sample: the uint8 array is one tensor, the pipeline shuffles and
batches *indices*, gathers a batch and augments it.

Randomness is stateless: every batch gets a seed pair from a seeded random stream
that changes every epoch, so the same seed gives the same batches on every run.
TensorFlow is imported inside the functions; importing this module costs nothing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench._lazy import require
from ferbench.spec.types import AugmentSpec

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf


def _affine(tf: Any, batch: Any, height: int, width: int, aug: AugmentSpec, seeds: Any) -> Any:
    """Per-image [a0 a1 a2 b0 b1 b2 0 0] mapping output to input pixels (flip·rotate·zoom·shift)."""
    def uniform(i: int, lo: float, hi: float) -> Any:
        return tf.random.stateless_uniform([batch], seed=seeds[i], minval=lo, maxval=hi)

    one = tf.ones([batch])
    flip = tf.where(uniform(0, 0.0, 1.0) < 0.5, -one, one) if aug.flip == "horizontal" else one
    theta = uniform(1, -1.0, 1.0) * (aug.rotation_deg * math.pi / 180.0)
    zoom = uniform(2, 1.0 - aug.zoom, 1.0 + aug.zoom)
    tx = uniform(3, -aug.translate, aug.translate) * width
    ty = uniform(4, -aug.translate, aug.translate) * height
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    cos, sin = tf.cos(theta) / zoom, tf.sin(theta) / zoom
    # Forward: out = c + t + zoom * R(theta) * F * (in - c). Inverse (what the op wants):
    # in = A (out - c - t) + c with A = F R(-theta) / zoom.
    a0, a1 = flip * cos, flip * sin
    b0, b1 = -sin, cos
    a2 = cx - a0 * (cx + tx) - a1 * (cy + ty)
    b2 = cy - b0 * (cx + tx) - b1 * (cy + ty)
    zero = tf.zeros([batch])
    return tf.stack([a0, a1, a2, b0, b1, b2, zero, zero], axis=1)


def augment_batch(images: "tf.Tensor", augment: AugmentSpec, seed: "tf.Tensor") -> "tf.Tensor":
    """Augment a float32 batch in [0, 1] (B×H×W×C) with a stateless seed pair; stays in [0, 1].

    Usable inside a compiled train step too (on a GPU the augmentation then runs
    on the device). Each transform is off when its size is 0.
    """
    return _augment(require("tensorflow"), images, augment, seed)


def _augment(tf: Any, images: Any, augment: AugmentSpec, seed: Any) -> Any:
    # tf is passed in: the pipeline traces this, and tracing an import would not work.
    if not augment.enabled:
        return images
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=7)
    batch = tf.shape(images)[0]
    height, width = int(images.shape[1]), int(images.shape[2])
    geometric = augment.flip == "horizontal" or augment.rotation_deg > 0 or augment.translate > 0 or augment.zoom > 0
    if geometric:
        images = tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=_affine(tf, batch, height, width, augment, seeds),
            output_shape=tf.constant([height, width], tf.int32),
            fill_value=tf.constant(0.0),
            interpolation="BILINEAR",
            fill_mode="REFLECT",  # Keras's default for its rotation/translation/zoom layers
        )
    if augment.contrast > 0:
        factor = tf.random.stateless_uniform([batch, 1, 1, 1], seed=seeds[5], minval=1 - augment.contrast, maxval=1 + augment.contrast)
        mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
        images = (images - mean) * factor + mean
    if augment.brightness > 0:
        images = images + tf.random.stateless_uniform([batch, 1, 1, 1], seed=seeds[6], minval=-augment.brightness, maxval=augment.brightness)
    if augment.contrast > 0 or augment.brightness > 0:
        images = tf.clip_by_value(images, 0.0, 1.0)
    return images


def _check(x: np.ndarray, y: np.ndarray) -> None:
    if x.dtype != np.uint8 or x.ndim != 4:
        raise ValueError(f"x must be uint8 N×H×W×C, got {x.dtype} {x.shape}")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} images but y has {len(y)} labels")


def _scale(tf: Any, xb: Any, value_range: tuple[float, float]) -> Any:
    lo, hi = value_range
    return xb if (lo, hi) == (0.0, 1.0) else xb * (hi - lo) + lo


def make_train_dataset(
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    augment: AugmentSpec,
    seed: int,
    deterministic: bool = False,
    class_weight: np.ndarray | None = None,
    shuffle: bool = True,
    drop_remainder: bool = False,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> "tf.data.Dataset":
    """Training batches ``(images, labels)`` or ``(images, labels, sample_weight)``.

    Images are float32 in ``value_range`` ([0, 1] by default), augmented per batch;
    labels int32; the sample weight is ``class_weight[label]``. The order and the
    augmentation differ every epoch and are the same for the same ``seed``.
    ``deterministic`` also fixes the order in which parallel batches are delivered.
    """
    tf = require("tensorflow")
    _check(x, y)
    images = tf.convert_to_tensor(x)  # one copy; tf.constant is slower for large arrays
    labels = tf.constant(np.asarray(y, np.int32))
    weights = None if class_weight is None else tf.constant(np.asarray(class_weight, np.float32))
    idx = tf.data.Dataset.range(len(x))
    if shuffle:
        idx = idx.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    idx = idx.batch(batch_size, drop_remainder=drop_remainder)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    ds = tf.data.Dataset.zip((idx, seeds))

    def load(i: Any, s: Any) -> Any:
        xb = tf.cast(tf.gather(images, i), tf.float32) * (1.0 / 255.0)
        xb = _scale(tf, _augment(tf, xb, augment, s), value_range)
        yb = tf.gather(labels, i)
        return (xb, yb) if weights is None else (xb, yb, tf.gather(weights, yb))

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    options = tf.data.Options()
    options.deterministic = deterministic
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


def make_eval_dataset(
    x: np.ndarray, y: np.ndarray, *, batch_size: int, value_range: tuple[float, float] = (0.0, 1.0)
) -> "tf.data.Dataset":
    """Evaluation batches ``(images, labels)``: float32 in ``value_range``, in order, no augmentation."""
    tf = require("tensorflow")
    _check(x, y)
    images = tf.convert_to_tensor(x)  # one copy; tf.constant is slower for large arrays
    labels = tf.constant(np.asarray(y, np.int32))

    def load(i: Any) -> Any:
        return _scale(tf, tf.cast(tf.gather(images, i), tf.float32) * (1.0 / 255.0), value_range), tf.gather(labels, i)

    ds = tf.data.Dataset.range(len(x)).batch(batch_size).map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
