"""Speed switches decided by the spec's ``runtime`` section and the device.

Mixed precision, XLA, ``steps_per_execution`` and whether the training images are
cached on the accelerator. The decisions are plain functions of the spec, the device
names and sizes, so they are unit-tested without a GPU; only :func:`apply_precision`,
:func:`detect_gpus` and :func:`on_gpu` touch Keras or TensorFlow (imported when called).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ferbench._lazy import require, visible_gpus
from ferbench.errors import UserInputError

if TYPE_CHECKING:
    from ferbench.spec.types import RuntimeSpec

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")

# Ampere (compute capability 8.x) and newer have fast bfloat16; bfloat16 needs no loss
# scaling, so it is preferred wherever the hardware has it.
_BF16_CC_MAJOR = 8
# Before Volta (7.0) there are no tensor cores: float16 brings no speed there.
_FP16_CC_MAJOR = 7

_CC_FORMS = (
    re.compile(r"compute[ _]capability\W{0,3}(\d+)\.(\d+)", re.IGNORECASE),  # detect_gpus, nvidia-smi
    re.compile(r"\bsm_?(\d+)(\d)\b", re.IGNORECASE),  # sm_80, sm90
    re.compile(r"\bcc\W{0,2}(\d+)\.(\d+)", re.IGNORECASE),  # cc 8.6
)
_BF16_NAMES = re.compile(
    r"\b(?:A100|A800|A10G?|A16|A2|A30|A40|A[2-6]000|A4500|H100|H800|H200|H20|GH200|GB200|"
    r"L4|L40S?|L20|B100|B200|B300|ORIN|THOR)\b"
    r"|\bRTX\s*(?:30|40|50)\d\d\b|\bRTX\s*(?:PRO\s*)?\d{4}\s*(?:ADA|BLACKWELL)\b",
    re.IGNORECASE,
)


class RuntimeConfigError(UserInputError):
    """An unknown or contradictory runtime switch."""


def compute_capability(gpu_name: str) -> tuple[int, int] | None:
    """The compute capability written in a device description, if any.

    Understands ``"NVIDIA H200 (compute capability 9.0)"`` (what :func:`detect_gpus`
    returns), ``"sm_80"`` and ``"cc 8.6"``.
    """
    for form in _CC_FORMS:
        m = form.search(gpu_name)
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


def supports_bfloat16(gpu_name: str) -> bool:
    """Whether a GPU has fast bfloat16: compute capability >= 8.0, or a known Ampere+ name."""
    cc = compute_capability(gpu_name)
    if cc is not None:
        return cc[0] >= _BF16_CC_MAJOR
    return bool(_BF16_NAMES.search(gpu_name))


def _gains_from_float16(gpu_name: str) -> bool:
    cc = compute_capability(gpu_name)
    return cc is None or cc[0] >= _FP16_CC_MAJOR


def resolve_precision(runtime: RuntimeSpec, gpu_names: list[str]) -> str:
    """The Keras dtype policy for a run: ``"float32"``, ``"mixed_float16"`` or ``"mixed_bfloat16"``.

    An explicit ``runtime.precision`` is returned as is. ``auto`` gives float32 on the
    CPU (no GPU names, or ``devices: cpu``), bfloat16 when every GPU is Ampere or newer,
    float32 when a GPU is known to predate Volta (no tensor cores), else float16.
    """
    precision = runtime.precision
    if precision in POLICIES:
        return precision
    if precision != "auto":
        raise RuntimeConfigError(f"runtime.precision must be one of auto, {', '.join(POLICIES)}; got {precision!r}")
    if runtime.devices == "cpu" or not gpu_names:
        return "float32"
    if all(supports_bfloat16(n) for n in gpu_names):
        return "mixed_bfloat16"
    if not all(_gains_from_float16(n) for n in gpu_names):
        return "float32"
    return "mixed_float16"


def resolve_jit(runtime: RuntimeSpec, on_gpu: bool) -> bool:
    """Whether to compile the train step with XLA (``jit_compile``).

    ``auto`` is on for a GPU and off on the CPU, where XLA was measured slower for this
    network. ``runtime.deterministic`` forces it off whatever is asked: XLA's fusion and
    autotuning choose kernels per compilation, so bitwise-repeatable runs keep it off.
    """
    if runtime.deterministic:
        return False
    jit = runtime.jit_compile
    if isinstance(jit, bool):
        return jit
    value = str(jit).strip().lower()
    if value == "auto":
        return bool(on_gpu)
    if value in ("true", "false"):
        return value == "true"
    raise RuntimeConfigError(f"runtime.jit_compile must be auto, true or false; got {jit!r}")


#: ``steps_per_execution: auto`` on a GPU: enough steps per call that the host's
#: per-step Python work (callbacks, logs, launching the step) is hidden.
GPU_STEPS_PER_EXECUTION = 32
#: ``auto`` on the CPU: a step takes tens of milliseconds, so more steps per call gain
#: little (measured equal on a quiet 2-core machine, faster only when other work shares
#: the cores), while 1 keeps per-batch callbacks exact and the numerics of runs made with
#: earlier versions (the loop changes float rounding).
CPU_STEPS_PER_EXECUTION = 1
#: The largest training array kept on the accelerator by ``auto`` (uint8 bytes), and the
#: largest share of the device's memory it may take when that is known.
DEVICE_CACHE_MAX_BYTES = 4 << 30
DEVICE_CACHE_MAX_SHARE = 0.25


def resolve_steps_per_execution(value: int | str, *, on_gpu: bool, steps_per_epoch: int | None = None) -> int:
    """Batches per compiled call (Keras's ``steps_per_execution``).

    An integer is kept; ``auto`` gives :data:`GPU_STEPS_PER_EXECUTION` on a GPU and
    :data:`CPU_STEPS_PER_EXECUTION` on the CPU, never more than the steps of an epoch.
    """
    if isinstance(value, bool):
        raise RuntimeConfigError(f"runtime.steps_per_execution must be auto or an integer >= 1; got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise RuntimeConfigError(f"runtime.steps_per_execution must be >= 1; got {value}")
        return value
    if str(value).strip().lower() != "auto":
        raise RuntimeConfigError(f"runtime.steps_per_execution must be auto or an integer >= 1; got {value!r}")
    n = GPU_STEPS_PER_EXECUTION if on_gpu else CPU_STEPS_PER_EXECUTION
    return max(1, min(n, steps_per_epoch)) if steps_per_epoch else n


def resolve_batches_in_step(*, on_gpu: bool, nbytes: int, device_bytes: int | None = None,
                            max_bytes: int = DEVICE_CACHE_MAX_BYTES) -> bool:
    """Whether the train step makes its own batches from the uint8 training images.

    The images are then held where the step runs (host memory on a CPU, copied to the
    GPU once on a GPU) and the input pipeline delivers only indices and seeds; the
    step gathers and augments each batch (XLA-compiled), on the device. Otherwise the
    tf.data pipeline gathers and augments, overlapping with the step.

    On a CPU always (nothing to copy, and the step's cores are not shared with a
    pipeline thread); on a GPU when the array fits: at most ``max_bytes`` and, when the
    device's memory is known, at most :data:`DEVICE_CACHE_MAX_SHARE` of it.
    """
    if nbytes <= 0:
        return False
    if not on_gpu:
        return True
    if nbytes > max_bytes:
        return False
    return device_bytes is None or nbytes <= DEVICE_CACHE_MAX_SHARE * device_bytes


def on_gpu() -> bool:
    """Whether Keras will train on a GPU (one is visible to TensorFlow)."""
    tf = require("tensorflow")
    return bool(tf.config.list_logical_devices("GPU"))


def apply_precision(policy: str) -> None:
    """Set Keras's global dtype policy (``keras.mixed_precision.set_global_policy``).

    Call before building the model: layers take the policy current when they are created.
    """
    if policy not in POLICIES:
        raise RuntimeConfigError(f"precision policy must be one of {', '.join(POLICIES)}; got {policy!r}")
    keras = require("keras")
    keras.mixed_precision.set_global_policy(policy)


def detect_gpus() -> list[str]:
    """Visible GPUs as ``"<device name> (compute capability X.Y)"``, for :func:`resolve_precision`."""
    tf = require("tensorflow")
    names = []
    for gpu in visible_gpus():
        details = tf.config.experimental.get_device_details(gpu) or {}
        name = details.get("device_name") or gpu.name
        cc = details.get("compute_capability")
        names.append(f"{name} (compute capability {cc[0]}.{cc[1]})" if cc else str(name))
    return names
