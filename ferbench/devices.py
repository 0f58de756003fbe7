"""Which devices a run's workers use, decided without TensorFlow.

The one place that lists the visible GPUs (``CUDA_VISIBLE_DEVICES``, else
``nvidia-smi``), turns ``runtime.devices`` and ``runtime.workers`` into device
slots, and maps a slot to the ``CUDA_VISIBLE_DEVICES`` its worker process runs
under. The planner takes the GPU list as input; the CLI asks this module once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

#: A device slot: ``"cpu"`` or ``"gpu:N"`` (N an index among the visible GPUs).
Slot = str


def visible_gpus() -> list[int]:
    """GPU indices visible to this process, found without TensorFlow."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [i for i, _ in enumerate(t for t in env.split(",") if t.strip() and t.strip() != "-1")]
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [i for i, _ in enumerate(line for line in out.splitlines() if line.startswith("GPU "))]


def device_slots(devices: str | Sequence[int], workers: int | str, gpus: Sequence[int]) -> list[Slot]:
    """One slot per worker: ``"cpu"`` or ``"gpu:N"`` (the worker sees only that GPU)."""
    if devices == "cpu":
        pool = ["cpu"]
    else:
        ids = list(gpus) if devices == "auto" else [int(d) for d in devices]
        pool = [f"gpu:{i}" for i in ids] or ["cpu"]
    n = len(pool) if workers == "auto" else int(workers)
    return [pool[i % len(pool)] for i in range(n)]


def gpu_index(slot: Slot) -> int | None:
    """The GPU index of a slot, ``None`` for ``cpu``."""
    return int(slot.split(":", 1)[1]) if slot.startswith("gpu:") else None


def cuda_visible_devices(slot: Slot) -> str:
    """``CUDA_VISIBLE_DEVICES`` for a worker on ``slot`` (``-1``: no GPU at all)."""
    index = gpu_index(slot)
    return "-1" if index is None else str(index)


def worker_assignment(slots: Sequence[Slot]) -> list[dict[str, str]]:
    """Which device each local worker process gets, and the CUDA_VISIBLE_DEVICES it runs under."""
    return [{"worker": f"w{i}", "device": slot, "cuda_visible_devices": cuda_visible_devices(slot)}
            for i, slot in enumerate(slots)]
