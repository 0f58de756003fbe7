"""The training batches: seeded shuffle, per-batch augmentation, prefetch.

Augmentation lives here, not in the model: preprocessing layers inside a model
turn XLA off and run once per layer. Per batch, flip, rotation, translation and
zoom are composed into one affine matrix per image and applied in one bilinear warp
with reflected borders (the numbers of ``ImageProjectiveTransformV3``, in ops XLA
compiles: one interpolation, not four, which also keeps the image sharper), followed
by elementwise contrast and brightness; XLA compiles the arithmetic into one pass.
There is no Python work per sample: the uint8 array is one tensor, the pipeline
shuffles and batches *indices*, and a batch is gathered and augmented in one go.

Two places to do that, with the same batches for the same seed: in the train step
(:class:`DeviceBatches` holds the uint8 array where the step runs and
:func:`make_index_dataset` delivers only indices and seeds; what a trial does on a CPU,
and on a GPU where the images fit), or in the tf.data pipeline
(:func:`make_train_dataset`, overlapping with the step).

Randomness is stateless: every batch gets a seed pair from a seeded random stream
that changes every epoch, so the same seed gives the same batches on every run.
TensorFlow is imported inside the functions; importing this module costs nothing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from ferbench._lazy import require
from ferbench.spec.types import AugmentSpec

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf
    from tensorflow import Tensor
    from tensorflow.data import Dataset

#: A batch maker: ``(uint8 images, seed pair) -> float32 images`` (see :func:`_batch_maker`).
BatchMaker = Callable[["Tensor", "Tensor"], "Tensor"]


#: Per image, one uniform [0, 1) draw per transform, in this order (columns of the draws).
_DRAWS = ("flip", "rotation", "zoom", "translate_x", "translate_y", "contrast", "brightness")


def _draws(tf: ModuleType, batch: Tensor, seed: Tensor) -> Tensor:
    """B×7 uniform draws from a stateless seed pair, one stream per transform.

    Drawn outside XLA: compiled, the same generator gives other numbers, and the
    augmentation must be the same compiled or not.
    """
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=len(_DRAWS))
    return tf.stack([tf.random.stateless_uniform([batch], seed=seeds[k]) for k in range(len(_DRAWS))], axis=1)


def _between(u: Tensor, lo: float, hi: float) -> Tensor:
    # As tf.random.stateless_uniform maps its [0, 1) draw to [minval, maxval).
    return u * (hi - lo) + lo


def _affine(tf: ModuleType, height: int, width: int, aug: AugmentSpec, u: Tensor) -> Tensor:
    """Per-image [a0 a1 a2 b0 b1 b2 0 0] mapping output to input pixels (flip·rotate·zoom·shift)."""
    # No nested closure over ``tf``: autograph, converting this inside a compiled train
    # step, can lose a closure's free variables.
    one = tf.ones_like(u[:, 0])
    flip = tf.where(u[:, 0] < 0.5, -one, one) if aug.flip == "horizontal" else one
    theta = _between(u[:, 1], -1.0, 1.0) * (aug.rotation_deg * math.pi / 180.0)
    zoom = _between(u[:, 2], 1.0 - aug.zoom, 1.0 + aug.zoom)
    tx = _between(u[:, 3], -aug.translate, aug.translate) * width
    ty = _between(u[:, 4], -aug.translate, aug.translate) * height
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    cos, sin = tf.cos(theta) / zoom, tf.sin(theta) / zoom
    # Forward: out = c + t + zoom * R(theta) * F * (in - c). Inverse (what the warp wants):
    # in = A (out - c - t) + c with A = F R(-theta) / zoom.
    a0, a1 = flip * cos, flip * sin
    b0, b1 = -sin, cos
    a2 = cx - a0 * (cx + tx) - a1 * (cy + ty)
    b2 = cy - b0 * (cx + tx) - b1 * (cy + ty)
    zero = tf.zeros_like(one)
    return tf.stack([a0, a1, a2, b0, b1, b2, zero, zero], axis=1)


def _reflect(tf: ModuleType, c: Tensor, n: int) -> Tensor:
    """TensorFlow's ``REFLECT`` fill for a coordinate (``d c b a | a b c d | d c b a``), clamped to [0, n-1]."""
    if n <= 1:
        return tf.zeros_like(c)
    period = float(2 * n)
    below = period * tf.floor(-c / period) + c
    below = tf.where(below < -n, below + period, -below - 1.0)
    above = c - period * tf.floor(c / period)
    above = tf.where(above >= n, period - above - 1.0, above)
    return tf.clip_by_value(tf.where(c < 0, below, tf.where(c > n - 1, above, c)), 0.0, float(n - 1))


def _warp(tf: ModuleType, images: Tensor, transforms: Tensor) -> Tensor:
    """Bilinear affine warp with reflected borders: ``ImageProjectiveTransformV3`` (``BILINEAR``,
    ``REFLECT``) for affine transforms, in the same float operations, so the same numbers.

    Written with gathers and element-wise ops because XLA has no kernel for that op:
    this compiles, alone or inside an XLA-compiled train step.
    ``transforms`` is B×8 (the last two, the projective terms, must be 0).
    """
    batch = tf.shape(images)[0]
    height, width, channels = int(images.shape[1]), int(images.shape[2]), int(images.shape[3])
    oy, ox = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    t = transforms[:, :, None, None]
    x = _reflect(tf, t[:, 0] * ox + t[:, 1] * oy + t[:, 2], width)
    y = _reflect(tf, t[:, 3] * ox + t[:, 4] * oy + t[:, 5], height)
    x0, y0 = tf.floor(x), tf.floor(y)
    x1, y1 = x0 + 1.0, y0 + 1.0
    # The far neighbour of a pixel on the last row/column has weight 0; clamping its index reads a finite value.
    xi0, yi0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    xi1, yi1 = tf.minimum(xi0 + 1, width - 1), tf.minimum(yi0 + 1, height - 1)
    first = (tf.range(batch) * (height * width))[:, None, None]
    pixels = tf.reshape(images, [-1, channels])
    wx0, wx1, wy0, wy1 = (v[..., None] for v in (x1 - x, x - x0, y1 - y, y - y0))
    top = wx0 * tf.gather(pixels, first + yi0 * width + xi0) + wx1 * tf.gather(pixels, first + yi0 * width + xi1)
    bottom = wx0 * tf.gather(pixels, first + yi1 * width + xi0) + wx1 * tf.gather(pixels, first + yi1 * width + xi1)
    return wy0 * top + wy1 * bottom


def augment_batch(images: tf.Tensor, augment: AugmentSpec, seed: tf.Tensor) -> tf.Tensor:
    """Augment a float32 batch in [0, 1] (B×H×W×C) with a stateless seed pair; stays in [0, 1].

    Usable inside a compiled train step too (on a GPU the augmentation then runs
    on the device). Each transform is off when its size is 0.
    """
    tf = require("tensorflow")
    if not augment.enabled:
        return images
    return _augment(tf, images, augment, _draws(tf, tf.shape(images)[0], seed), xla=True)


def _transform_op(tf: ModuleType, images: Tensor, transforms: Tensor) -> Tensor:
    """TensorFlow's own kernel for :func:`_warp` (the same numbers; faster uncompiled, no XLA kernel)."""
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3], fill_value=tf.constant(0.0),
        interpolation="BILINEAR", fill_mode="REFLECT")


def _augment(tf: ModuleType, images: Tensor, augment: AugmentSpec, u: Tensor, *, xla: bool) -> Tensor:
    """The augmentation of a float32 batch in [0, 1], given its B×7 draws (see ``_DRAWS``).

    ``xla``: warp with ops XLA compiles (:func:`_warp`); otherwise with TensorFlow's
    transform op, which gives the same numbers and is faster when not compiled.
    """
    # tf is passed in: the pipeline traces this, and tracing an import would not work.
    height, width = int(images.shape[1]), int(images.shape[2])
    geometric = augment.flip == "horizontal" or augment.rotation_deg > 0 or augment.translate > 0 or augment.zoom > 0
    if geometric:
        images = (_warp if xla else _transform_op)(tf, images, _affine(tf, height, width, augment, u))
    if augment.contrast > 0:
        factor = tf.reshape(_between(u[:, 5], 1 - augment.contrast, 1 + augment.contrast), [-1, 1, 1, 1])
        mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
        images = (images - mean) * factor + mean
    if augment.brightness > 0:
        images = images + tf.reshape(_between(u[:, 6], -augment.brightness, augment.brightness), [-1, 1, 1, 1])
    if augment.contrast > 0 or augment.brightness > 0:
        images = tf.clip_by_value(images, 0.0, 1.0)
    return images


def _check(x: np.ndarray, y: np.ndarray) -> None:
    if x.dtype != np.uint8 or x.ndim != 4:
        raise ValueError(f"x must be uint8 N×H×W×C, got {x.dtype} {x.shape}")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} images but y has {len(y)} labels")


def _scale(tf: ModuleType, xb: Tensor, value_range: tuple[float, float]) -> Tensor:
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
    jit: bool = True,
) -> tf.data.Dataset:
    """Training batches ``(images, labels)`` or ``(images, labels, sample_weight)``.

    Images are float32 in ``value_range`` ([0, 1] by default), augmented per batch;
    labels int32; the sample weight is ``class_weight[label]``. The order and the
    augmentation differ every epoch and are the same for the same ``seed``.
    ``deterministic`` also fixes the order in which parallel batches are delivered.
    ``jit`` compiles the augmentation with XLA (the same recipe; float rounding differs
    from the uncompiled one by about 1e-5 of the range); uncompiled, the warp is
    TensorFlow's transform op, which XLA cannot compile.
    """
    tf = require("tensorflow")
    _check(x, y)
    gather = _gatherer(tf, x)
    make = _batch_maker(tf, augment, value_range, jit)
    return _labelled_batches(tf, y, lambda i, s: make(gather(i), s), batch_size=batch_size, seed=seed,
                             deterministic=deterministic, class_weight=class_weight, shuffle=shuffle,
                             drop_remainder=drop_remainder)


def _gatherer(tf: ModuleType, x: np.ndarray) -> Callable[[Tensor], Tensor]:
    """``indices -> uint8 batch``: from one tensor holding ``x``, or, for a memory-mapped ``x``
    (a split over the memory budget, see :mod:`ferbench.data.memory`), read from the file
    per batch in the pipeline's threads, so only the batches in flight are in memory."""
    if not isinstance(x, np.memmap):
        images = tf.convert_to_tensor(x)  # one copy; tf.constant is slower for large arrays
        return lambda i: tf.gather(images, i)
    from ferbench.data.memory import drop_pages

    shape = [None, *x.shape[1:]]
    calls = [0]

    def read(i: np.ndarray) -> np.ndarray:
        order = np.argsort(i, kind="stable")  # ascending reads: the file is read forwards
        out = np.empty((len(i), *x.shape[1:]), np.uint8)
        out[order] = x[np.asarray(i, np.int64)[order]]
        calls[0] += 1
        if calls[0] % 32 == 0:  # the pages read stay in the page cache, not in this process's resident memory
            drop_pages(x)
        return out

    def gather(i: Tensor) -> Tensor:
        return tf.ensure_shape(tf.numpy_function(read, [i], tf.uint8, stateful=False), shape)

    return gather


def _labelled_batches(tf: ModuleType, y: np.ndarray, inputs: BatchMaker, *, batch_size: int, seed: int,
                      deterministic: bool, class_weight: np.ndarray | None, shuffle: bool, drop_remainder: bool) -> Dataset:
    """``(inputs(indices, seed), labels[, sample_weight])`` per batch of shuffled indices: both training paths."""
    labels = tf.constant(np.asarray(y, np.int32))
    weights = None if class_weight is None else tf.constant(np.asarray(class_weight, np.float32))
    ds = _index_batches(tf, len(y), batch_size, seed, shuffle, drop_remainder)

    def load(i: Tensor, s: Tensor) -> tuple[Tensor, ...]:
        xb, yb = inputs(i, s), tf.gather(labels, i)
        return (xb, yb) if weights is None else (xb, yb, tf.gather(weights, yb))

    return _finish(tf, ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic), deterministic)


def _index_batches(tf: ModuleType, n: int, batch_size: int, seed: int, shuffle: bool, drop_remainder: bool) -> Dataset:
    """Batches of sample indices, each with its stateless seed pair: ``(indices, seed)``."""
    idx = tf.data.Dataset.range(n)
    if shuffle:
        idx = idx.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    idx = idx.batch(batch_size, drop_remainder=drop_remainder)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((idx, seeds))


def _to_float(tf: ModuleType, xb: Tensor, value_range: tuple[float, float]) -> Tensor:
    """A gathered uint8 batch as float32 in ``value_range``, not augmented."""
    return _scale(tf, tf.cast(xb, tf.float32) * (1.0 / 255.0), value_range)


def _batch_maker(tf: ModuleType, augment: AugmentSpec, value_range: tuple[float, float], jit: bool) -> BatchMaker:
    """``(uint8 batch, seed pair) -> augmented float32 batch in value_range``: the one recipe both paths share.

    With ``jit`` the arithmetic is compiled with XLA, which fuses the warp's gathers and
    element-wise ops into one pass: about a third of the CPU time of TensorFlow's own
    transform op per batch, CPU left to the training step. The random draws stay outside XLA.
    """
    if not augment.enabled:
        return lambda xb, seed: _to_float(tf, xb, value_range)
    lo, hi = value_range
    compute = _compiled(augment, (lo, hi)) if jit else _arithmetic(tf, augment, (lo, hi), xla=False)
    return lambda xb, seed: compute(xb, _draws(tf, tf.shape(xb)[0], seed))


def _arithmetic(tf: ModuleType, augment: AugmentSpec, value_range: tuple[float, float], *, xla: bool) -> BatchMaker:
    def arithmetic(xb: Tensor, u: Tensor) -> Tensor:
        return _scale(tf, _augment(tf, tf.cast(xb, tf.float32) * (1.0 / 255.0), augment, u, xla=xla), value_range)

    return arithmetic


@functools.lru_cache(maxsize=16)
def _compiled(augment: AugmentSpec, value_range: tuple[float, float]) -> BatchMaker:
    """The XLA-compiled arithmetic, one per recipe and process: the trials of a run share
    its compilations (about 2 s each on a CPU) instead of compiling again."""
    tf = require("tensorflow")
    # No autograph: the arithmetic has no tensor-dependent Python control flow to convert.
    compiled: BatchMaker = tf.function(_arithmetic(tf, augment, value_range, xla=True), jit_compile=True, autograph=False)
    return compiled


def _finish(tf: ModuleType, ds: Dataset, deterministic: bool) -> Dataset:
    options = tf.data.Options()
    options.deterministic = deterministic
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


class DeviceBatches:
    """The uint8 training images held on one device, turned into augmented batches there.

    With :func:`make_index_dataset` the input pipeline delivers only indices and seed
    pairs; calling this object inside the compiled train step gathers the batch from
    the device-resident array and augments it on the device. The images cross to the
    device once, not once per batch; with ``device=None`` the array stays in host
    memory, for a train step on the CPU. For the same seed (and ``jit``) the batches
    equal those of :func:`make_train_dataset`.
    """

    def __init__(self, x: np.ndarray, *, augment: AugmentSpec, value_range: tuple[float, float] = (0.0, 1.0),
                 device: str | None = None, jit: bool = True) -> None:
        tf = require("tensorflow")
        if x.dtype != np.uint8 or x.ndim != 4:
            raise ValueError(f"x must be uint8 N×H×W×C, got {x.dtype} {x.shape}")
        self._tf, self.device, self.jit = tf, device, jit
        self._make = _batch_maker(tf, augment, value_range, jit)
        self._nbytes = int(x.nbytes)
        if device is None:  # a memory-mapped x (over the memory budget) is read a batch at a time
            self._gather = _gatherer(tf, x)
        else:
            with tf.device(device):
                images = tf.identity(tf.convert_to_tensor(x))  # identity places the copy on the device
            self._gather = lambda i: tf.gather(images, i)

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def __call__(self, indices: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        return self._make(self._gather(indices), seed)


def make_index_dataset(
    y: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    deterministic: bool = False,
    class_weight: np.ndarray | None = None,
    shuffle: bool = True,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Training batches ``((indices, seed), labels[, sample_weight])`` for :class:`DeviceBatches`.

    The same order, seeds, labels and weights as :func:`make_train_dataset` with the
    same arguments; only the images are left to the train step.
    """
    tf = require("tensorflow")
    return _labelled_batches(tf, y, lambda i, s: (i, s), batch_size=batch_size, seed=seed, deterministic=deterministic,
                             class_weight=class_weight, shuffle=shuffle, drop_remainder=drop_remainder)


def make_eval_dataset(
    x: np.ndarray, y: np.ndarray, *, batch_size: int, value_range: tuple[float, float] = (0.0, 1.0)
) -> tf.data.Dataset:
    """Evaluation batches ``(images, labels)``: float32 in ``value_range``, in order, no augmentation."""
    tf = require("tensorflow")
    _check(x, y)
    gather = _gatherer(tf, x)  # a memory-mapped split is read a batch at a time: predictions in chunks
    labels = tf.constant(np.asarray(y, np.int32))

    def load(i: Tensor) -> tuple[Tensor, Tensor]:
        return _to_float(tf, gather(i), value_range), tf.gather(labels, i)

    ds = tf.data.Dataset.range(len(x)).batch(batch_size).map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
