"""Mixup and CutMix: each image mixed with its partner in the batch, labels and class weights alike.

Mixup (Zhang et al. 2018): ``x = lam x_i + (1 - lam) x_j``. CutMix (Yun et al. 2019): a box
of ``x_j`` pasted into ``x_i``, ``lam`` being the share of ``x_i`` left. The label vectors
and the per-sample class weights get the same convex combination, ``lam y_i + (1 - lam) y_j``,
so a weighted loss weighs a mixed image as the two it was made of. ``lam`` is drawn from
Beta(alpha, alpha) for the share ``prob`` of the images; the others keep ``lam = 1``.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from ferbench.run.train.recipes.base import Batch, Unit, beta, box_mask, partner, uniforms

if TYPE_CHECKING:
    from tensorflow import Tensor


def mix(tf: ModuleType, batch: Batch, lam: Tensor) -> tuple[Tensor, Tensor | None]:
    """Labels and weights as ``lam`` times one's own plus ``1 - lam`` times the partner's."""
    _, y, w = batch
    lam = tf.cast(lam, tf.float32)
    y = tf.reshape(lam, [-1, 1]) * y + tf.reshape(1.0 - lam, [-1, 1]) * partner(tf, y)
    if w is not None:
        w = lam * w + (1.0 - lam) * partner(tf, w)
    return y, w


class Mixup(Unit):
    block = "augment.mixup"
    in_step = True
    vectors = True

    def draws(self, tf: ModuleType, seed: Tensor, batch: Tensor) -> tuple[Tensor, ...]:
        s = tf.random.experimental.stateless_split(seed, num=2)
        chosen = uniforms(tf, s[0], batch, 1)[:, 0] < float(self.hp["mixup_prob"])
        return (tf.where(chosen, beta(tf, s[1], batch, float(self.hp["mixup_alpha"])), 1.0),)

    def apply(self, tf: ModuleType, batch: Batch, draws: tuple[Tensor, ...]) -> Batch:
        x = batch[0]
        lam = draws[0]
        lx = tf.reshape(tf.cast(lam, x.dtype), [-1, 1, 1, 1])
        y, w = mix(tf, batch, lam)
        return lx * x + (1.0 - lx) * partner(tf, x), y, w


class CutMix(Unit):
    block = "augment.cutmix"
    in_step = True
    vectors = True

    def draws(self, tf: ModuleType, seed: Tensor, batch: Tensor) -> tuple[Tensor, ...]:
        s = tf.random.experimental.stateless_split(seed, num=2)
        u = uniforms(tf, s[0], batch, 3)
        lam = tf.where(u[:, 0] < float(self.hp["cutmix_prob"]), beta(tf, s[1], batch, float(self.hp["cutmix_alpha"])), 1.0)
        return lam, u[:, 1], u[:, 2]

    def apply(self, tf: ModuleType, batch: Batch, draws: tuple[Tensor, ...]) -> Batch:
        """The box: sides ``sqrt(1 - lam)`` of the image's around a uniform centre, clipped to the image;
        the labels mixed by the area actually pasted."""
        x = batch[0]
        lam, uy, ux = draws
        height, width = int(x.shape[1]), int(x.shape[2])
        cut = tf.sqrt(1.0 - lam)
        h, w = tf.round(cut * height), tf.round(cut * width)
        cy, cx = tf.floor(uy * height), tf.floor(ux * width)
        y0, y1 = tf.clip_by_value(cy - tf.floor(h / 2), 0, height), tf.clip_by_value(cy + tf.floor(h / 2), 0, height)
        x0, x1 = tf.clip_by_value(cx - tf.floor(w / 2), 0, width), tf.clip_by_value(cx + tf.floor(w / 2), 0, width)
        mask = box_mask(tf, (height, width), y0, x0, y1 - y0, x1 - x0)
        kept = 1.0 - (y1 - y0) * (x1 - x0) / float(height * width)
        mask = tf.cast(mask, x.dtype)
        y, wt = mix(tf, batch, kept)
        return x * (1.0 - mask) + partner(tf, x) * mask, y, wt
