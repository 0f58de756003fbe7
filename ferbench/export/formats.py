"""The export formats as one table: a format is a row (file writer, runtime adapter, tolerance), not a branch.

Adding a format means one writer, one runtime adapter and one row in :data:`FORMAT_TABLE`
(and its name in ``schemas/export.schema.json``'s ``format``, which a test keeps equal).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench.export.latency import images
from ferbench.results.atomic import write_bytes
from ferbench.results.exports import ExportedFile
from ferbench.results.read import file_sha256

if TYPE_CHECKING:
    import keras

    from ferbench.run.train.setup import RunData

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Target:
    """What a writer and a runtime need to know besides the model: the run's data, input and batch, the CPU threads."""

    data: RunData
    input_shape: tuple[int, int, int]
    eval_batch: int
    threads: int


@dataclass(frozen=True)
class Written:
    """The files of one format, and what the record says of how they were made."""

    files: tuple[ExportedFile, ...]
    quantization: Mapping[str, Any] | None = None
    converter: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Runtime:
    """An exported model loaded in its own runtime: probabilities of images, and one call to time per batch size."""

    name: str
    predict: Predict
    timed: Callable[[int], Callable[[], object]]


@dataclass(frozen=True)
class Format:
    """One row of the table.

    ``tolerance``: the largest difference in any class probability against the Keras model
    on the test split that a faithful conversion stays within (quantisation is allowed more).
    """

    name: str
    write: Callable[[keras.Model, Path, Target], Written]
    runtime: Callable[[Path, Target], Runtime]
    tolerance: float
    needs: tuple[str, ...] = ()  # optional modules the format imports (checked before any work, with their install hint)


def _blob_file(folder: Path, name: str, blob: bytes) -> ExportedFile:
    path = write_bytes(folder / name, blob)
    return ExportedFile(path.name, len(blob), hashlib.sha256(blob).hexdigest())


# --- SavedModel -----------------------------------------------------------------------------------


def _write_savedmodel(model: keras.Model, folder: Path, target: Target) -> Written:
    from ferbench.export.savedmodel import write_saved_model

    files = write_saved_model(model, folder / "saved_model")
    return Written(tuple(ExportedFile(str(p.relative_to(folder)), p.stat().st_size, file_sha256(p)) for p in files))


def _run_savedmodel(folder: Path, target: Target) -> Runtime:
    from ferbench._lazy import require
    from ferbench.export.savedmodel import saved_model_predict

    predict, call = saved_model_predict(folder / "saved_model", target.eval_batch)

    def timed(batch_size: int) -> Callable[[], object]:
        x = images(batch_size, target.input_shape)
        return lambda: call(x)

    return Runtime(f"tensorflow {require('tensorflow').__version__} (SavedModel)", predict, timed)


# --- TFLite ---------------------------------------------------------------------------------------


def _tflite_writer(fmt: str) -> Callable[[keras.Model, Path, Target], Written]:
    def write(model: keras.Model, folder: Path, target: Target) -> Written:
        from ferbench.export.tflite import CALIBRATION_SEED, calibration_images, to_tflite

        calibration = calibration_images(target.data) if fmt == "tflite-int8" else None
        blob = to_tflite(model, fmt, calibration)
        quantization: dict[str, Any] | None = None
        if fmt == "tflite-float16":
            quantization = {"weights": "float16", "activations": "float32"}
        elif calibration is not None:
            quantization = {"weights": "int8", "activations": "int8",
                            "calibration": {"split": "train", "images": int(len(calibration)), "seed": CALIBRATION_SEED}}
        return Written((_blob_file(folder, "model.tflite", blob),), quantization)

    return write


def _run_tflite(folder: Path, target: Target) -> Runtime:
    from ferbench.export.tflite import interpreter, interpreter_class, tflite_call, tflite_predict

    blob = (folder / "model.tflite").read_bytes()

    def timed(batch_size: int) -> Callable[[], object]:
        x, one = images(batch_size, target.input_shape), tflite_call(interpreter(blob, batch_size, target.threads))
        return lambda: one(x)

    return Runtime(interpreter_class()[1], tflite_predict(blob, target.threads), timed)


# --- ONNX -----------------------------------------------------------------------------------------


def _write_onnx(model: keras.Model, folder: Path, target: Target) -> Written:
    from ferbench.export.onnx import to_onnx

    blob, converter = to_onnx(model, target.input_shape)
    return Written((_blob_file(folder, "model.onnx", blob),), converter=converter)


def _run_onnx(folder: Path, target: Target) -> Runtime:
    from ferbench.export.onnx import onnx_call, onnx_predict, runtime_name, session

    sess = session((folder / "model.onnx").read_bytes(), target.threads)
    call = onnx_call(sess)

    def timed(batch_size: int) -> Callable[[], object]:
        x = images(batch_size, target.input_shape)
        return lambda: call(x)

    return Runtime(runtime_name(), onnx_predict(sess, target.eval_batch), timed)


#: Every format ``ferbench export`` writes, in the order it lists them.
FORMAT_TABLE: dict[str, Format] = {f.name: f for f in (
    Format("savedmodel", _write_savedmodel, _run_savedmodel, tolerance=1e-5),
    Format("tflite", _tflite_writer("tflite"), _run_tflite, tolerance=1e-4),
    Format("tflite-float16", _tflite_writer("tflite-float16"), _run_tflite, tolerance=5e-2),
    Format("tflite-int8", _tflite_writer("tflite-int8"), _run_tflite, tolerance=0.5),
    Format("onnx", _write_onnx, _run_onnx, tolerance=1e-4, needs=("tf2onnx", "onnxruntime")),
)}
