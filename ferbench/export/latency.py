"""Inference latency: a few warm-up calls, then the median of timed repeats, per batch size.

Every complete trial measures its model on the trial's device at batch 1 (what a
camera frame costs, and what ``latency_ms`` objectives and bounds use) and at a large
batch (the spec's ``train.eval_batch_size``: throughput). ``ferbench export`` measures
the exported files the same way through their own runtime. The median of the repeats
keeps one slow call (another process taking the CPU, a page fault) from deciding the
number; the record says the device, the runtime, the threads and the machine's load
when measured, so a number taken on a busy CPU reads as what it is.

Importing this module imports neither TensorFlow nor Optuna.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ferbench.results.measures import Latency, LatencyBatch

if TYPE_CHECKING:
    import keras

#: Warm-up calls and timed repeats at batch 1, and at a large batch (where one call already takes long).
SMALL_WARMUP, SMALL_REPEATS = 10, 50
LARGE_WARMUP, LARGE_REPEATS = 2, 5


def median_ms(call: Callable[[], object], *, warmup: int, repeats: int) -> float:
    """Median wall-clock milliseconds of ``call()`` over ``repeats`` timed calls after ``warmup`` untimed ones.

    ``call`` must return only once the work is done (a device result copied to the host).
    """
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(statistics.median(times))


def plan_batches(large: int) -> tuple[tuple[int, int, int], ...]:
    """``(batch size, warm-up, repeats)`` to measure: batch 1, and ``large`` when it is more than 1."""
    out = [(1, SMALL_WARMUP, SMALL_REPEATS)]
    if large > 1:
        out.append((int(large), LARGE_WARMUP, LARGE_REPEATS))
    return tuple(out)


def load_average() -> float | None:
    """The machine's 1-minute load average, where the system has one."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def measure(make_call: Callable[[int], Callable[[], object]], batches: Sequence[tuple[int, int, int]], *, device: str,
            device_name: str | None, runtime: str, threads: int | None) -> Latency:
    """Time ``make_call(batch_size)()`` for each ``(batch size, warm-up, repeats)``; the :class:`Latency` record."""
    load = load_average()
    # Rounded here, as the record writes it: the values told to Optuna are read off the record and must be
    # the same whether read before or after it went to disk.
    rows = tuple(LatencyBatch(b, round(median_ms(make_call(b), warmup=w, repeats=r), 4), w, r) for b, w, r in batches)
    return Latency(device=device, device_name=device_name, runtime=runtime, batches=rows, threads=threads, load_1min=load)


def images(batch_size: int, input_shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """A batch of random pixel values in [0, 255] (the work of a forward pass does not depend on them)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 255.0, size=(batch_size, *input_shape)).astype(np.float32)


def keras_latency(model: keras.Model, input_shape: tuple[int, int, int], *, large_batch: int, gpu: bool) -> Latency:
    """Latency of a Keras model's forward pass (inference mode, one compiled graph) on this process's device.

    The call is a ``tf.function`` of the model: what a served Keras model runs, without
    ``predict``'s per-call set-up. Its result is copied to the host, so the time includes
    the device finishing its work.
    """
    from ferbench._lazy import require
    from ferbench.results.environment import cpu_name, gpu_names, usable_cpus

    tf = require("tensorflow")
    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=False)

    def make_call(batch_size: int) -> Callable[[], object]:
        x = tf.constant(images(batch_size, input_shape))
        return lambda: forward(x).numpy()

    threads = tf.config.threading.get_intra_op_parallelism_threads() or usable_cpus()
    names = gpu_names() if gpu else []
    # A worker sees its one GPU as GPU:0; CUDA_VISIBLE_DEVICES says which of the machine's it is.
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    device = f"gpu:{visible if visible.isdigit() else 0}" if gpu else "cpu"
    return measure(make_call, plan_batches(large_batch), device=device,
                   device_name=(names[0] if names else None) if gpu else cpu_name(),
                   runtime=f"tensorflow {tf.__version__}", threads=None if gpu else int(threads))
