"""The batch-norm momentum a trial trains with: the family's own, capped for the dataset at hand.

Keras's families keep the momentum of their ImageNet training (MobileNetV3: 0.999;
ResNet and mini-Xception: 0.99; EfficientNetV2 and the VGG variant: 0.9). The moving
statistics are an exponential average over about ``1 / (1 - momentum)`` steps, and
inference uses them alone: at 0.999 they average over the last 1,000 steps, more than
two epochs of FER2013 at batch 64 (448 steps each), while the weights they summarise
move on. A model trained a few epochs then predicts one class in inference mode though
it learnt in training mode (the MobileNetV3s of the README's zoo table did).

So a trial caps the momentum for its training set: the average spans at most a quarter
of an epoch (``1 - 4 / steps_per_epoch``), and never less than 0.9 nor more than 0.99.
On full FER2013 that leaves every family's own value but MobileNetV3's (0.999 -> 0.99);
on a few thousand images it is 0.9. ``model.bn_momentum`` sets it outright. Plain
Python, no TensorFlow: the value is recorded in the trial's hyperparameters.
"""

from __future__ import annotations

#: The cap's bounds: Keras's default momentum, and the momentum of PyTorch's default (0.1).
HIGHEST = 0.99
LOWEST = 0.9
#: The moving average spans at most 1 / SPAN of an epoch's steps.
SPAN = 4


def dataset_cap(steps_per_epoch: int) -> float:
    """The highest momentum whose moving average spans at most a quarter of an epoch, within [0.9, 0.99]."""
    steps = max(int(steps_per_epoch), 1)
    return min(HIGHEST, max(LOWEST, 1.0 - SPAN / steps))


def training_momentum(family_value: float | None, steps_per_epoch: int, given: float | None = None) -> float | None:
    """The momentum a trial trains with: ``given`` (``model.bn_momentum``) if set, else the family's capped.

    ``None`` for a model whose batch norms ferbench does not know (a custom builder).
    """
    if given is not None:
        return float(given)
    if family_value is None:
        return None
    return round(min(float(family_value), dataset_cap(steps_per_epoch)), 6)
