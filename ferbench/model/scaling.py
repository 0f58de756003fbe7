"""Keras's width and depth rounding rules, shared by every family that scales channels or repeats.

Plain Python (no TensorFlow). EfficientNetV2 defines them (``keras.src.applications.efficientnet_v2``);
ResNet and VGG scale their filters with the same rule so that every width multiplier rounds alike.
"""

from __future__ import annotations

import math

#: Filters are rounded to a multiple of this, never below ``MIN_DEPTH`` (Keras defaults).
DEPTH_DIVISOR = 8
MIN_DEPTH = 8


def round_filters(filters: float, width_coefficient: float, min_depth: int = MIN_DEPTH, depth_divisor: int = DEPTH_DIVISOR) -> int:
    """Scale ``filters`` by the width coefficient and round to a multiple of ``depth_divisor``.

    The same expression as Keras (round half up on the scaled value, floor at
    ``min_depth``), evaluated in the same order so floating-point results match bit for bit.
    """
    filters *= width_coefficient
    minimum_depth = min_depth or depth_divisor
    new_filters = max(minimum_depth, int(filters + depth_divisor / 2) // depth_divisor * depth_divisor)
    return int(new_filters)


def round_repeats(repeats: int, depth_coefficient: float) -> int:
    """Scale a stage's block count by the depth coefficient, rounding up (Keras's rule)."""
    return int(math.ceil(depth_coefficient * repeats))
