"""Lazy imports of heavy dependencies, with an install hint (Optuna's try_import idea).

TensorFlow (and Keras, which imports it) is imported quietly: its C++ start-up
lines (oneDNN notes, ``cuInit`` failures, absl's "log messages before
absl::InitializeLog()") go straight to file descriptor 2 before any Python logging
exists, so ``TF_CPP_MIN_LOG_LEVEL`` alone does not hold them back. The import (and
the listing of GPUs, where the CUDA lines come from) runs with file descriptor 2
pointed at a temporary file, shown only if the import fails. A user who sets
``TF_CPP_MIN_LOG_LEVEL`` to 0 or 1 asked for those lines, and sees them.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import IO, Any

from ferbench.errors import MissingDependency

_HINTS = {
    "tensorflow": "pip install 'ferbench' (TensorFlow >= 2.16 with Keras 3)",
    "keras": "pip install 'ferbench' (Keras 3 comes with TensorFlow >= 2.16)",
    "optuna": "pip install optuna",
    "psycopg": "pip install 'ferbench[postgres]'",
    "matplotlib": "pip install matplotlib",
    "sklearn": "pip install scikit-learn",
    "cv2": "pip install 'ferbench[faces]' (OpenCV 4, whose Haar cascades OpenCV 5 no longer ships)",
    "mtcnn": "pip install 'ferbench[faces]'",
    "tf2onnx": "pip install 'ferbench[onnx]'",
    "onnx": "pip install 'ferbench[onnx]'",
    "onnxruntime": "pip install 'ferbench[onnx]'",
    "mlflow": "pip install 'ferbench[mlflow]'",
    "tensorboard": "pip install 'ferbench[tensorboard]'",
}


def require(module: str) -> ModuleType:
    """Import ``module`` now, or raise a :class:`MissingDependency` saying how to install it."""
    try:
        if module.split(".")[0] in ("tensorflow", "keras") and "tensorflow" not in sys.modules:
            _import_tensorflow_quietly()
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        top = module.split(".")[0]
        hint = _HINTS.get(top, f"pip install {top}")
        raise MissingDependency(f"{module} is needed for this command but is not installed ({exc}); install it with: {hint}") from exc


def lazy_exports(package: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A package's ``__getattr__`` that imports the module of an exported name on first use.

    ``homes``: exported name -> the module that defines it. Importing the package
    itself then imports none of them (``ferbench validate`` stays free of NumPy).
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    return __getattr__


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait (blocked, not lost) to the end of the block, then act at once.

    For the few seconds file descriptor 2 points elsewhere: a stop raised in there
    could leave it pointing at the temporary file (the "interrupted" line lost) or
    stop TensorFlow half-imported.
    """
    import signal

    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    except (AttributeError, OSError, ValueError):  # pragma: no cover - no POSIX signal masks here
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def _stderr_to_file() -> Iterator[IO[bytes]]:
    """Point file descriptor 2 at a temporary file for the duration of the block (stops wait for its end)."""
    with signals_held():
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as caught:
            os.dup2(caught.fileno(), 2)
            try:
                yield caught
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)


@contextlib.contextmanager
def native_output_held() -> Iterator[None]:
    """Hold back what TensorFlow's C++ code and Keras print (file descriptors 1 and 2) during the block.

    For calls that report their work line by line (the TFLite converter, Keras's SavedModel
    export); if the block fails, what was held back is shown before the error goes on.
    ``TF_CPP_MIN_LOG_LEVEL`` of 0 or 1 shows everything, as for the rest of TensorFlow.
    """
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() in ("0", "1"):
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)

    def restore() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)

    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 1)
        os.dup2(caught.fileno(), 2)
        try:
            with contextlib.redirect_stdout(sys.stderr):  # Python's prints go to the same place
                yield
        except BaseException:
            restore()
            caught.seek(0)
            sys.stderr.write(caught.read().decode("utf-8", "replace"))
            raise
        finally:
            restore()
            os.close(saved[0])
            os.close(saved[1])


def visible_gpus() -> list[Any]:
    """TensorFlow's physical GPU devices, listed with CUDA's start-up lines held back.

    The first listing in a process initialises CUDA, which prints ``cuInit`` failures
    on machines without a GPU even when TensorFlow itself was imported earlier.
    """
    tf = require("tensorflow")
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() in ("0", "1"):
        return list(tf.config.list_physical_devices("GPU"))
    with _stderr_to_file():
        return list(tf.config.list_physical_devices("GPU"))


def _import_tensorflow_quietly() -> None:
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() in ("0", "1"):
        importlib.import_module("tensorflow")
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    failure: BaseException | None = None
    with _stderr_to_file() as caught:
        try:
            tf = importlib.import_module("tensorflow")
            tf.config.list_physical_devices("GPU")  # where the cuInit lines come from
        except BaseException as exc:  # noqa: BLE001 - shown and raised again below
            failure = exc
            caught.seek(0)
            shown = caught.read().decode("utf-8", "replace")
    if failure is not None:
        if not isinstance(failure, KeyboardInterrupt):  # a stop is no failure to explain: its lines stay held back
            sys.stderr.write(shown)
        raise failure
    tf.get_logger().setLevel(logging.ERROR)
