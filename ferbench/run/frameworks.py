"""TensorFlow and Optuna set up for a run: logs down, devices chosen.

TensorFlow itself is imported quietly by :func:`ferbench._lazy.require`.
"""

from __future__ import annotations

import contextlib
from types import ModuleType

from ferbench._lazy import require, visible_gpus
from ferbench.devices import Slot
from ferbench.errors import FerbenchError
from ferbench.spec.types import RuntimeSpec


def quiet_optuna() -> ModuleType:
    """Optuna with its own log lines off: ferbench reports failed and pruned trials itself, with the record's error."""
    optuna = require("optuna")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


def quiet_libraries() -> None:
    """Import TensorFlow and Optuna quietly, before any live view starts (their lines would tear it)."""
    require("tensorflow")
    quiet_optuna()


def select_devices(runtime: RuntimeSpec, slot: Slot | None = None) -> list[Slot]:
    """Make TensorFlow see only the device this process trains on; return its slot.

    One worker trains on one device. ``slot`` is given to the worker processes of
    a local pool, whose ``CUDA_VISIBLE_DEVICES`` already leaves one GPU (or none).
    Otherwise ``runtime.devices`` decides: ``cpu`` hides every GPU, a list of GPU
    indices keeps the first, ``auto`` keeps the first visible one.
    """
    tf = require("tensorflow")
    gpus = visible_gpus()
    if slot is not None:
        keep = gpus[:1] if slot.startswith("gpu") else []
        slots = [slot if keep or slot == "cpu" else "cpu"]
    elif runtime.devices == "cpu":
        keep, slots = [], ["cpu"]
    elif runtime.devices == "auto":
        keep, slots = gpus[:1], ["gpu:0"] if gpus else ["cpu"]
    else:
        index = int(runtime.devices[0])
        if index >= len(gpus):
            raise FerbenchError(f"runtime.devices asks for GPU {index} but {len(gpus)} GPU(s) are visible")
        keep, slots = [gpus[index]], [f"gpu:{index}"]
    with contextlib.suppress(RuntimeError):  # already set by an earlier run of this process
        tf.config.set_visible_devices(keep, "GPU")
    return slots
