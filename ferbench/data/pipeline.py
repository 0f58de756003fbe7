"""The tf.data input pipeline: seeded shuffle, per-batch augmentation, prefetch.

Augmentation lives here, not in the model: preprocessing layers inside a model
turn XLA off and run once per layer. Per batch, flip, rotation, translation and
zoom are composed into one affine matrix per image and applied with a single
``ImageProjectiveTransformV3`` (one interpolation, not four, which also keeps the
image sharper), followed by elementwise contrast and brightness. There is no
Python work per sample: the uint8 array is one tensor, the pipeline shuffles and
batches *indices*, gathers a batch and augments it. On a GPU the same recipe can run
inside the train step instead: :class:`DeviceBatches` keeps the uint8 array on the
device and :func:`make_index_dataset` delivers only indices and seeds, giving the
same batches.

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


def _uniform(tf: Any, batch: Any, seed: Any, lo: float, hi: float) -> Any:
    return tf.random.stateless_uniform([batch], seed=seed, minval=lo, maxval=hi)


def _affine(tf: Any, batch: Any, height: int, width: int, aug: AugmentSpec, seeds: Any) -> Any:
    """Per-image [a0 a1 a2 b0 b1 b2 0 0] mapping output to input pixels (flip·rotate·zoom·shift)."""
    # No nested closure over ``tf``: autograph, converting this inside a compiled train
    # step, can lose a closure's free variables.
    one = tf.ones([batch])
    flip = tf.where(_uniform(tf, batch, seeds[0], 0.0, 1.0) < 0.5, -one, one) if aug.flip == "horizontal" else one
    theta = _uniform(tf, batch, seeds[1], -1.0, 1.0) * (aug.rotation_deg * math.pi / 180.0)
    zoom = _uniform(tf, batch, seeds[2], 1.0 - aug.zoom, 1.0 + aug.zoom)
    tx = _uniform(tf, batch, seeds[3], -aug.translate, aug.translate) * width
    ty = _uniform(tf, batch, seeds[4], -aug.translate, aug.translate) * height
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


_NO_AUGMENT = AugmentSpec(False, "none", 0.0, 0.0, 0.0, 0.0, 0.0)


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
    ds = _index_batches(tf, len(x), batch_size, seed, shuffle, drop_remainder)

    def load(i: Any, s: Any) -> Any:
        xb = _to_float(tf, tf.gather(images, i), augment, s, value_range)
        yb = tf.gather(labels, i)
        return (xb, yb) if weights is None else (xb, yb, tf.gather(weights, yb))

    return _finish(tf, ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic), deterministic)


def _index_batches(tf: Any, n: int, batch_size: int, seed: int, shuffle: bool, drop_remainder: bool) -> Any:
    """Batches of sample indices, each with its stateless seed pair: ``(indices, seed)``."""
    idx = tf.data.Dataset.range(n)
    if shuffle:
        idx = idx.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    idx = idx.batch(batch_size, drop_remainder=drop_remainder)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((idx, seeds))


def _to_float(tf: Any, xb: Any, augment: AugmentSpec, seed: Any, value_range: tuple[float, float]) -> Any:
    """A gathered uint8 batch as augmented float32 in ``value_range``: the one recipe both paths share."""
    return _scale(tf, _augment(tf, tf.cast(xb, tf.float32) * (1.0 / 255.0), augment, seed), value_range)


def _finish(tf: Any, ds: Any, deterministic: bool) -> Any:
    options = tf.data.Options()
    options.deterministic = deterministic
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


class DeviceBatches:
    """The uint8 training images held on one device, turned into augmented batches there.

    With :func:`make_index_dataset` the input pipeline delivers only indices and seed
    pairs; calling this object inside the compiled train step gathers the batch from
    the device-resident array and augments it on the device. The images cross to the
    device once, not once per batch. For the same seed the batches equal those of
    :func:`make_train_dataset`.
    """

    def __init__(self, x: np.ndarray, *, augment: AugmentSpec, value_range: tuple[float, float] = (0.0, 1.0),
                 device: str | None = None) -> None:
        tf = require("tensorflow")
        if x.dtype != np.uint8 or x.ndim != 4:
            raise ValueError(f"x must be uint8 N×H×W×C, got {x.dtype} {x.shape}")
        self._tf, self.augment, self.value_range, self.device = tf, augment, value_range, device
        if device is None:
            self.images = tf.convert_to_tensor(x)
        else:
            with tf.device(device):
                self.images = tf.identity(tf.convert_to_tensor(x))  # identity places the copy on the device

    @property
    def nbytes(self) -> int:
        return int(self.images.shape.num_elements())

    def __call__(self, indices: "tf.Tensor", seed: "tf.Tensor") -> "tf.Tensor":
        tf = self._tf
        return _to_float(tf, tf.gather(self.images, indices), self.augment, seed, self.value_range)


def make_index_dataset(
    y: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    deterministic: bool = False,
    class_weight: np.ndarray | None = None,
    shuffle: bool = True,
    drop_remainder: bool = False,
) -> "tf.data.Dataset":
    """Training batches ``((indices, seed), labels[, sample_weight])`` for :class:`DeviceBatches`.

    The same order, seeds, labels and weights as :func:`make_train_dataset` with the
    same arguments; only the images are left to the train step.
    """
    tf = require("tensorflow")
    labels = tf.constant(np.asarray(y, np.int32))
    weights = None if class_weight is None else tf.constant(np.asarray(class_weight, np.float32))
    ds = _index_batches(tf, len(y), batch_size, seed, shuffle, drop_remainder)

    def load(i: Any, s: Any) -> Any:
        yb = tf.gather(labels, i)
        return ((i, s), yb) if weights is None else ((i, s), yb, tf.gather(weights, yb))

    return _finish(tf, ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic), deterministic)


def make_eval_dataset(
    x: np.ndarray, y: np.ndarray, *, batch_size: int, value_range: tuple[float, float] = (0.0, 1.0)
) -> "tf.data.Dataset":
    """Evaluation batches ``(images, labels)``: float32 in ``value_range``, in order, no augmentation."""
    tf = require("tensorflow")
    _check(x, y)
    images = tf.convert_to_tensor(x)  # one copy; tf.constant is slower for large arrays
    labels = tf.constant(np.asarray(y, np.int32))

    def load(i: Any) -> Any:
        return _to_float(tf, tf.gather(images, i), _NO_AUGMENT, None, value_range), tf.gather(labels, i)

    ds = tf.data.Dataset.range(len(x)).batch(batch_size).map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
