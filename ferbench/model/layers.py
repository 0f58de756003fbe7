"""Batch normalisation on TensorFlow's fused kernel, and conversion to and from Keras's layer.

Keras 3's ``BatchNormalization`` computes the batch statistics and the normalisation
with separate element-wise ops (``moments``, then ``batch_normalization``) and lets
autodiff differentiate each of them. TensorFlow has one fused kernel for the forward
pass and one for its gradient (oneDNN on a CPU, cuDNN on a GPU, also under XLA); Keras 2
used them, Keras 3 does not. The EfficientNetV2 family has a batch norm after every
convolution, so on the scaled-down thesis model this layer alone makes a training step
about a quarter shorter on a CPU (see docs/performance.md).

:class:`FusedBatchNormalization` is Keras's layer with only ``call`` replaced: the same
variables (gamma, beta, moving mean and variance), configuration, momentum and epsilon,
and the same math, including Keras 3's moving variance (the biased batch variance; the
fused kernel returns the Bessel-corrected one, which is undone here). Results differ from
Keras's layer by float rounding only. Cases the kernel does not cover (masks, renorm,
synchronised statistics, other ranks or axes, epsilon below cuDNN's minimum, other
backends) fall back to Keras's own computation.

Saved models hold Keras's own layer (:func:`to_keras`), so ``keras.models.load_model``
reads them with no ferbench code; :func:`to_fused` converts a loaded model back.

This module imports Keras at the top; the builder imports it only when it builds.
"""

from __future__ import annotations

from typing import Any

from ferbench._lazy import require

require("keras")  # TensorFlow's start-up lines held back (see ferbench._lazy) before Keras imports it

import keras  # noqa: E402
from keras import KerasTensor  # noqa: E402

#: cuDNN's smallest epsilon; TensorFlow raises smaller ones to it, so those are not fused.
MIN_FUSED_EPSILON = 1.001e-5


@keras.saving.register_keras_serializable(package="ferbench")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` computed with TensorFlow's fused kernel (channels-last 4-D inputs)."""

    def _fusable(self, inputs: KerasTensor, mask: KerasTensor | None) -> bool:
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.renorm
            and not self.synchronized
            and self.center
            and self.scale
            and len(inputs.shape) == 4
            and self.axis in (3, -1)
            and self.epsilon >= MIN_FUSED_EPSILON
        )

    def call(self, inputs: KerasTensor, training: bool | None = None, mask: KerasTensor | None = None) -> KerasTensor:
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        # The kernel takes float16/bfloat16 images with float32 statistics, as mixed precision has them.
        x = tf.convert_to_tensor(inputs)
        gamma, beta = tf.convert_to_tensor(self.gamma), tf.convert_to_tensor(self.beta)
        if training and self.trainable:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x, gamma, beta, epsilon=self.epsilon, data_format="NHWC", is_training=True)
            # Keras 3 averages the biased batch variance; the kernel returns the unbiased one.
            n = tf.cast(tf.size(x) // tf.shape(x)[-1], variance.dtype)
            variance = variance * ((n - 1.0) / tf.maximum(n, 1.0))
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
            self.moving_variance.assign(self.moving_variance * m + variance * (1.0 - m))
        else:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x, gamma, beta, mean=tf.convert_to_tensor(self.moving_mean),
                variance=tf.convert_to_tensor(self.moving_variance), epsilon=self.epsilon,
                data_format="NHWC", is_training=False)
        return tf.cast(y, self.compute_dtype)


def _swap(model: keras.Model, target: type) -> keras.Model:
    """A copy of ``model`` whose batch norms are all of class ``target``, with the same weights.

    ``model`` itself when there is nothing to swap, or when it is a subclassed model
    (Keras can clone only functional and sequential ones). Only the two classes are
    swapped; other subclasses of Keras's layer may compute something else and are kept.
    """
    def other(layer: keras.layers.Layer) -> bool:
        return type(layer) in (keras.layers.BatchNormalization, FusedBatchNormalization) and type(layer) is not target

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        cls: Any = target if other(layer) else layer.__class__
        return cls.from_config(layer.get_config())

    if not any(other(layer) for layer in model.layers):
        return model
    try:
        copy = keras.models.clone_model(model, clone_function=clone)
    except ValueError:  # a subclassed model
        return model
    for old, new in zip(model.layers, copy.layers):
        new.set_weights(old.get_weights())
    return copy


def to_keras(model: keras.Model) -> keras.Model:
    """``model`` with Keras's own ``BatchNormalization`` (for saving): same weights, no ferbench classes."""
    return _swap(model, keras.layers.BatchNormalization)


def to_fused(model: keras.Model) -> keras.Model:
    """``model`` with :class:`FusedBatchNormalization` (after loading): same weights, ferbench's speed."""
    return _swap(model, FusedBatchNormalization)
