"""Random erasing (Zhong et al. 2020): a box of an image replaced by uniform noise.

For the share ``prob`` of the images, a box of area ``a`` (a fraction of the image, uniform
in ``area``) and aspect ratio ``r`` = height / width (log-uniform in ``ratio``): height
``round(sqrt(a r) H)`` and width ``round(sqrt(a / r) W)``, each at least 1 and at most the
image's, at a uniform position inside the image. Labels and weights are unchanged. The
noise is a hash of each pixel's index and a key drawn per batch: the same numbers in a
step XLA compiles and in one it does not.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import TYPE_CHECKING

from ferbench.run.train.recipes.base import Batch, Unit, box_mask, hash_uniform, uniforms

if TYPE_CHECKING:
    from tensorflow import Tensor


class RandomErasing(Unit):
    block = "augment.random_erasing"
    in_step = True

    def draws(self, tf: ModuleType, seed: Tensor, batch: Tensor) -> tuple[Tensor, ...]:
        s = tf.random.experimental.stateless_split(seed, num=2)
        u = uniforms(tf, s[0], batch, 5)
        hp = self.hp
        a_lo, a_hi = float(hp["erasing_area_min"]), float(hp["erasing_area_max"])
        r_lo, r_hi = math.log(float(hp["erasing_ratio_min"])), math.log(float(hp["erasing_ratio_max"]))
        chosen = tf.cast(u[:, 0] < float(hp["erasing_prob"]), tf.float32)
        area = u[:, 1] * (a_hi - a_lo) + a_lo
        ratio = tf.exp(u[:, 2] * (r_hi - r_lo) + r_lo)
        key = tf.cast(tf.random.stateless_uniform([], seed=s[1], minval=0, maxval=2**31 - 1, dtype=tf.int32), tf.uint32)
        return chosen, area, ratio, u[:, 3], u[:, 4], key

    def apply(self, tf: ModuleType, batch: Batch, draws: tuple[Tensor, ...]) -> Batch:
        x, y, w = batch
        chosen, area, ratio, uy, ux, key = draws
        height, width = int(x.shape[1]), int(x.shape[2])
        h = tf.clip_by_value(tf.round(tf.sqrt(area * ratio) * height), 1, height)
        bw = tf.clip_by_value(tf.round(tf.sqrt(area / ratio) * width), 1, width)
        top, left = tf.floor(uy * (height - h + 1)), tf.floor(ux * (width - bw + 1))
        mask = box_mask(tf, (height, width), top, left, h, bw) * tf.reshape(chosen, [-1, 1, 1, 1])
        lo, hi = self.value_range
        noise = tf.cast(hash_uniform(tf, tf.shape(x), key) * (hi - lo) + lo, x.dtype)
        mask = tf.cast(mask, x.dtype)
        return x * (1.0 - mask) + noise * mask, y, w
