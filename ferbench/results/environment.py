"""The environment a run trained in, for run.json and trial records (and for ``verify``).

Versions come from package metadata, so nothing heavy is imported just to read
them; GPU names come from TensorFlow only when it is already loaded. Besides the
versions and the machine's names, the environment keeps what changes floating-point
results on the same code: the CPUs a process may use (TensorFlow splits work by
them) and the environment variables that pick CPU kernels (:data:`NUMERICS_VARS`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import ferbench

#: Packages whose versions a result depends on (distribution name -> key in run.json).
PACKAGES = {"tensorflow": "tensorflow", "keras": "keras", "optuna": "optuna", "numpy": "numpy",
            "scikit-learn": "scikit_learn"}

#: Environment variables that change which CPU kernels TensorFlow runs (oneDNN on or
#: off, the instruction set oneDNN may use), and so the last bits of every result.
NUMERICS_VARS = ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA")


def package_version(dist: str) -> str | None:
    """Installed version of a distribution, or ``None`` when it is not installed."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    """The commit of ferbench's source checkout, or ``None`` (installed wheel, no git)."""
    root = Path(ferbench.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    if out.returncode != 0 or len(sha) != 40:
        return None
    try:  # mark uncommitted changes: the commit alone would not reproduce the code
        dirty = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    return sha + ("-dirty" if dirty else "")


def cpu_name() -> str:
    """A human-readable CPU model name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def numerics_vars() -> dict[str, str]:
    """The set ones among :data:`NUMERICS_VARS`, name -> value."""
    return {name: os.environ[name] for name in NUMERICS_VARS if name in os.environ}


def gpu_names() -> list[str]:
    """Names of the GPUs TensorFlow sees; empty when TensorFlow is not loaded or sees none."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return []
    names = []
    from ferbench._lazy import visible_gpus

    for dev in visible_gpus():
        try:
            details = tf.config.experimental.get_device_details(dev)
        except Exception:  # details are optional; the device name is enough
            details = {}
        names.append(str(details.get("device_name") or dev.name))
    return names


@functools.lru_cache(maxsize=1)
def _static() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "ferbench": ferbench.__version__,
        **{key: package_version(dist) for dist, key in PACKAGES.items()},
        "git_commit": git_commit(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": usable_cpus(),
    }


def environment() -> dict[str, Any]:
    """``{python, ferbench, tensorflow, keras, optuna, numpy, scikit_learn, git_commit, host, platform,
    cpu, cpu_count, numerics_vars, gpus}``."""
    env = dict(_static())
    env["numerics_vars"] = numerics_vars()
    env["gpus"] = gpu_names()
    return env
