"""What every family's cost model returns, and the arithmetic of the layers they share.

Plain Python (no TensorFlow). Counting conventions (see ``docs/model.md``):

* **params** is what Keras's ``Model.count_params()`` reports: every weight, trainable
  or not, so each batch norm counts 4 per channel (gamma, beta, moving mean and
  variance) and a layer norm 2.
* **macs** is multiply-accumulates per image of convolution and dense kernels only:
  ``out_h * out_w * k_h * k_w * c_in * c_out`` for a convolution, ``out_h * out_w * k_h *
  k_w * c`` for a depthwise one, ``c_in * c_out`` for a dense layer or a 1x1 convolution
  on a pooled vector. Normalisation, activations, pooling, gating products, residual
  additions and biases are not counted. FLOPs are commonly quoted as ``2 * macs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BN = 4  # weights per channel of a BatchNormalization layer


@dataclass(frozen=True)
class StageCost:
    """One row of the per-stage table: a stage of the family, or its head (the last row)."""

    stage: int
    kind: str  # the family's name for the stage's operator ("stem", "mbconv", "head", ...)
    repeats: int  # blocks (layers for plain stages) in the stage
    channels: int  # output channels (the head's own width for the head)
    output_size: int  # output feature-map height (= width for square inputs); the head reports the map it reads
    params: int
    macs: int


@dataclass(frozen=True)
class Cost:
    """Totals and the per-stage breakdown; ``params`` and ``macs`` are the sums over ``stages``."""

    params: int
    macs: int
    stages: tuple[StageCost, ...]

    @property
    def flops(self) -> int:
        """``2 * macs``, the usual "FLOPs" figure."""
        return 2 * self.macs


def total(rows: list[StageCost]) -> Cost:
    """The :class:`Cost` of a list of rows."""
    return Cost(params=sum(r.params for r in rows), macs=sum(r.macs for r in rows), stages=tuple(rows))


def same_out(n: int, strides: int) -> int:
    """Output size of a ``padding="same"`` layer (also of a correctly padded ``valid`` one)."""
    return math.ceil(n / strides)


def valid_out(n: int, kernel: int, strides: int) -> int:
    """Output size of a ``padding="valid"`` layer."""
    return (n - kernel) // strides + 1


def conv(h: int, w: int, k: int, c_in: int, c_out: int, *, bias: bool = False) -> tuple[int, int]:
    """(params, macs) of a convolution producing an ``h x w`` map."""
    return k * k * c_in * c_out + (c_out if bias else 0), h * w * k * k * c_in * c_out


def depthwise(h: int, w: int, k: int, c: int) -> tuple[int, int]:
    """(params, macs) of a bias-free depthwise convolution producing an ``h x w`` map."""
    return k * k * c, h * w * k * k * c


def dense(c_in: int, c_out: int, *, bias: bool = True) -> tuple[int, int]:
    """(params, macs) of a dense layer (or a 1x1 convolution on a pooled vector)."""
    return c_in * c_out + (c_out if bias else 0), c_in * c_out


class Tally:
    """Sums (params, macs) pairs: ``t.add(conv(...)); t.add(BN * c)``."""

    def __init__(self) -> None:
        self.params = 0
        self.macs = 0

    def add(self, cost: tuple[int, int] | int) -> None:
        """Add a (params, macs) pair, or a number of parameters alone."""
        if isinstance(cost, int):
            self.params += cost
        else:
            self.params += cost[0]
            self.macs += cost[1]
