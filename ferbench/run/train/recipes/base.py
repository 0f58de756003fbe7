"""What a training recipe unit is: the hooks a trial calls, each a no-op unless the unit needs it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from tensorflow import Tensor

#: A batch in the train step: images (B×H×W×C float32, the model's input range), label
#: vectors (B×K float32) and sample weights (B float32, or ``None`` without class weights).
Batch = tuple["Tensor", "Tensor", "Tensor | None"]


class Unit:
    """One recipe of the table (:data:`ferbench.spec.recipes.RECIPES`), registered by its block.

    ``hp`` is the trial's hyperparameters (the recipe's values among them, by their
    table names); ``value_range`` the model's input range.
    """

    block: ClassVar[str]
    #: Acts on each batch inside the train step (:meth:`draws` and :meth:`apply`).
    in_step: ClassVar[bool] = False
    #: Needs the labels as vectors (mixing them, or carrying a teacher's predictions).
    vectors: ClassVar[bool] = False

    def __init__(self, hp: Mapping[str, Any], value_range: tuple[float, float] = (0.0, 255.0)) -> None:
        self.hp = hp
        self.value_range = value_range

    def draws(self, tf: ModuleType, seed: Tensor, batch: Tensor) -> tuple[Tensor, ...]:
        """The batch's random numbers, drawn in the input pipeline from a stateless seed pair
        (outside XLA: Beta draws have no XLA kernel, and the same seed gives the same numbers compiled or not)."""
        return ()

    def apply(self, tf: ModuleType, batch: Batch, draws: tuple[Tensor, ...]) -> Batch:
        """The batch after the recipe, inside the train step."""
        return batch

    def install(self, model: Any) -> Callable[[], None] | None:
        """Set the unit up on the trial's model before fitting; what the train step calls after each step (``None``: nothing)."""
        return None

    def callbacks(self) -> list[Any]:
        """Keras callbacks, placed first in the fit (before validation scores, early stopping and the epoch log)."""
        return []


def beta(tf: ModuleType, seed: Tensor, n: Tensor, alpha: float) -> Tensor:
    """``n`` draws of Beta(alpha, alpha), as the ratio of two Gamma(alpha) draws (stateless)."""
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    g1 = tf.random.stateless_gamma([n], seed=seeds[0], alpha=alpha)
    g2 = tf.random.stateless_gamma([n], seed=seeds[1], alpha=alpha)
    return g1 / tf.maximum(g1 + g2, 1e-12)


def uniforms(tf: ModuleType, seed: Tensor, n: Tensor, k: int) -> Tensor:
    """n×k uniform [0, 1) draws."""
    return tf.random.stateless_uniform(tf.stack([n, k]), seed=seed)


def partner(tf: ModuleType, t: Tensor) -> Tensor:
    """Each sample's partner in a batch: the batch reversed (it is shuffled already), as timm pairs them."""
    return tf.reverse(t, axis=[0])


def box_mask(tf: ModuleType, shape: tuple[int, int], top: Tensor, left: Tensor, h: Tensor, w: Tensor) -> Tensor:
    """B×H×W×1 float mask, 1 inside each sample's box (rows top..top+h-1, columns left..left+w-1)."""
    height, width = shape
    rows = tf.reshape(tf.range(height), [1, height, 1, 1])
    cols = tf.reshape(tf.range(width), [1, 1, width, 1])

    def col(v: Tensor) -> Tensor:
        return tf.reshape(tf.cast(v, tf.int32), [-1, 1, 1, 1])

    inside = (rows >= col(top)) & (rows < col(top + h)) & (cols >= col(left)) & (cols < col(left + w))
    return tf.cast(inside, tf.float32)


def hash_uniform(tf: ModuleType, shape: Tensor, key: Tensor) -> Tensor:
    """Uniform [0, 1) numbers of ``shape`` from a uint32 ``key``: MurmurHash3's finaliser of each element's
    index. Integer arithmetic, so XLA and TensorFlow give the same numbers (a stateless generator's differ)."""
    h = tf.cast(tf.range(tf.reduce_prod(shape), dtype=tf.int64), tf.uint32) * tf.constant(2654435761, tf.uint32) + key
    for shift, mul in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(shift, tf.uint32)))
        h = h * tf.constant(mul, tf.uint32)
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(16, tf.uint32)))
    u = tf.cast(tf.bitwise.right_shift(h, tf.constant(8, tf.uint32)), tf.float32) * (1.0 / 16777216.0)
    return tf.reshape(u, shape)
