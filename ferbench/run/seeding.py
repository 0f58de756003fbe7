"""Seeding hooks: one place that seeds every random number generator a trial uses.

``seed_trial`` runs before each trial's model is built, so weight initialisation,
dropout and the input pipeline's shuffling and augmentation follow the trial's
seed. With ``deterministic`` TensorFlow's op determinism is switched on too
(slower; some GPU kernels have no deterministic version and raise instead).
"""

from __future__ import annotations

import os
import random

import numpy as np

_determinism_on = False


def seed_trial(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy, TensorFlow and Keras with ``seed``."""
    global _determinism_on
    random.seed(seed)
    np.random.seed(seed % (2**32))
    from ferbench._lazy import require

    keras = require("keras")
    keras.utils.set_random_seed(seed)  # seeds Python, NumPy and the backend (TensorFlow)
    if deterministic and not _determinism_on:
        tf = require("tensorflow")
        # Both: the env var for kernels chosen at graph build, the call for everything else.
        os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
        tf.config.experimental.enable_op_determinism()
        _determinism_on = True
