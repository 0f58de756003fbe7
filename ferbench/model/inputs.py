"""How a model's first layer scales the [0, 255] pixels it is given, and which scaling a trial trains with.

Every family takes [0, 255] and scales the pixels itself, as Keras's applications do.
Two families' Keras preprocessing uses ImageNet's statistics, which fit their ImageNet
weights and nothing else: ResNet subtracts ImageNet's mean pixel (Keras's "caffe"; for
one grey channel, the mean of the three), EfficientNetV2-B0 to -B3 on RGB input subtract
ImageNet's mean and divide by its standard deviation (Keras's "torch"). A network trained
from scratch on 48x48 grayscale faces has no use for them: a grey ResNet saw pixels in
about [-118, 137]. A trial therefore scales every family to [-1, 1], except with
``model.weights: imagenet``, where the family keeps the preprocessing those weights
expect. A weights file is taken to come from a model built the same way (a run's
``best/model.keras``). Plain Python, no TensorFlow.
"""

from __future__ import annotations

from ferbench.model.family import Family

#: ``x / 127.5 - 1`` (EfficientNetV2's Keras preprocessing: ``x / 128 - 1``).
PLUS_MINUS_ONE = "-1..1"
#: ``x / 255``.
UNIT = "0..1"
#: ``x - mean`` with ImageNet's mean pixel (Keras's "caffe").
IMAGENET_MEAN = "imagenet_mean"
#: ``(x / 255 - mean) / std`` with ImageNet's statistics (Keras's "torch"), RGB input only.
IMAGENET_MEAN_STD = "imagenet_mean_std"

#: The scalings that carry ImageNet's statistics.
IMAGENET_STATISTICS = (IMAGENET_MEAN, IMAGENET_MEAN_STD)


def keras_scaling(fam: Family, channels: int) -> str:
    """What the family's Keras preprocessing does to ``channels``-channel input."""
    own = fam.inputs_imagenet
    if own == IMAGENET_MEAN or (own == IMAGENET_MEAN_STD and channels == 3):
        return own
    return fam.inputs


def trial_scaling(fam: Family, channels: int, *, pretrained: bool) -> str:
    """The scaling a trial builds the family with: Keras's with initial weights; from scratch, [-1, 1] in place of
    ImageNet's statistics (the family's own plain scaling otherwise)."""
    keras_own = keras_scaling(fam, channels)
    if pretrained or keras_own not in IMAGENET_STATISTICS:
        return keras_own
    return PLUS_MINUS_ONE
