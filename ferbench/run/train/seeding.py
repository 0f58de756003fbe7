"""Seeding hooks: one place that seeds every random number generator a trial uses.

``seed_trial`` runs before each trial's model is built, so weight initialisation,
dropout and the input pipeline's shuffling and augmentation follow the trial's
seed. ``deterministic`` (the spec's ``runtime.deterministic``) switches TensorFlow's
op determinism on for the trial, and off again for a trial that does not ask for it,
so one process can hold runs of both kinds. Op determinism is slower, and some GPU
kernels have no deterministic version and raise instead. The input pipeline's
delivery order and XLA are decided elsewhere from the same switch
(:func:`ferbench.data.pipeline.make_train_dataset`, :func:`ferbench.model.runtime.resolve_jit`).
"""

from __future__ import annotations

import os
import random

import numpy as np

#: Whether this module switched op determinism on (and set ``TF_DETERMINISTIC_OPS``).
_determinism_on = False
_set_env = False


def seed_trial(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy, TensorFlow and Keras with ``seed``; op determinism per ``deterministic``."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    from ferbench._lazy import require

    keras = require("keras")
    keras.utils.set_random_seed(seed)  # seeds Python, NumPy and the backend (TensorFlow)
    set_op_determinism(deterministic)


def set_op_determinism(enabled: bool) -> None:
    """Switch TensorFlow's op determinism on or off (a no-op when it already is)."""
    global _determinism_on, _set_env
    if enabled == _determinism_on:
        return
    from ferbench._lazy import require

    tf = require("tensorflow")
    if enabled:
        # Both: the env var for kernels chosen at graph build, the call for everything else.
        if "TF_DETERMINISTIC_OPS" not in os.environ:
            os.environ["TF_DETERMINISTIC_OPS"] = "1"
            _set_env = True
        tf.config.experimental.enable_op_determinism()
        _determinism_on = True
        return
    try:  # TensorFlow has no public switch back; a process without it keeps determinism on
        from tensorflow.python.framework.config import disable_op_determinism
    except ImportError:
        return
    disable_op_determinism()
    if _set_env:
        os.environ.pop("TF_DETERMINISTIC_OPS", None)
        _set_env = False
    _determinism_on = False
