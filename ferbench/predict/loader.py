"""One loader for a trained model: a Keras file, a run folder (its best trial, or ``--trial N``), or a TFLite file.

An exported file brings its export record's format and probability tolerance (``parity``)
along, so a check of its answers against the Keras model's uses the tolerance its
conversion was recorded with, not a number of its own.

What the model expects (input size, grayscale or RGB, value range) and what its
outputs mean (the classes) come from the run whose folder holds the file, when
there is one; else from the model itself (classes then are ``class_0`` ...).
``ferbench evaluate`` loads its models through :func:`resolve_target` and
:func:`load_keras_model` too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench.errors import FerbenchError, ResultsError
from ferbench.results.paths import RunPaths
from ferbench.results.read import check_keras_archive
from ferbench.spec.types import FacesSpec

if TYPE_CHECKING:
    import keras

    from ferbench.spec.types import Spec

#: Input conventions a model may expect; ferbench's own models take 0..255.
INPUT_RANGES = {"0-255": (0.0, 255.0), "0-1": (0.0, 1.0), "-1-1": (-1.0, 1.0)}
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
TFLITE_SUFFIXES = (".tflite",)

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ExportOf:
    """What an exported file's record says of how far it may stray from the Keras model."""

    format: str
    tolerance: float | None  # the largest class-probability difference expected (None: a record without parity)
    test_accuracy: float

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "tolerance": self.tolerance, "test_accuracy": self.test_accuracy}


@dataclass
class LoadedModel:
    """A model ready to score uint8 images (N×size×size×channels) into class probabilities."""

    predict: Predict
    image_size: int
    color: str  # grayscale | rgb
    classes: tuple[str, ...]
    file: Path
    run_dir: Path | None
    trial: int | None
    faces: FacesSpec | None  # the faces stage the model was trained behind, if any
    runtime: str  # keras | tflite
    #: An exported file's own record (``export.json`` beside it): its format and the tolerance within
    #: which its class probabilities answer like the Keras model's; ``None`` for a Keras model.
    export: ExportOf | None = None


def resolve_target(target: Path, trial: int | None = None) -> tuple[Path, Path | None]:
    """``(model file, run folder or None)`` for a model file or a run folder (its best trial, or ``trial``)."""
    if target.is_dir():
        paths = RunPaths(target)
        if trial is not None:
            from ferbench.export.api import model_file

            return model_file(paths, trial), target
        if not paths.best_model.exists():
            raise ResultsError(f"{target}: no best/model.keras (is it a run folder with a complete trial?)")
        return paths.best_model, target
    if not target.exists():
        raise FerbenchError(f"{target}: no such model file or run folder")
    if trial is not None:
        raise FerbenchError(f"trial={trial} (--trial on the command line) is only for a run folder; {target} is a model file")
    return target, None


def run_folder_of(model: Path) -> Path | None:
    """The run folder holding ``model`` (``best/``, ``trials/<n>/``, an export beside a trial), if any."""
    for parent in list(model.resolve().parents)[:6]:
        paths = RunPaths(parent)
        if paths.run_json.is_file() and paths.spec.is_file():
            return parent
    return None


def load_keras_model(path: Path) -> keras.Model:
    """A saved Keras model, or one line saying why the file is not one."""
    from ferbench._lazy import require

    keras = require("keras")
    if path.suffix not in KERAS_SUFFIXES:
        raise FerbenchError(f"{path}: not a Keras model file (expected .keras, .h5 or .hdf5)")
    check_keras_archive(path)
    try:
        return keras.models.load_model(path, compile=False)
    except ValueError as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        if "safe_mode" in str(exc):
            raise FerbenchError(f"{path}: Keras's safe mode refuses to load this model ({first}); "
                                "only load models you trust, and re-save it without Lambda layers") from None
        raise FerbenchError(f"{path}: Keras cannot load it as a model ({first})") from None
    except (OSError, TypeError, KeyError, AttributeError, ImportError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise FerbenchError(f"{path}: Keras cannot load it as a model ({type(exc).__name__}: {first})") from None


def keras_probabilities(model: keras.Model, x: np.ndarray, batch_size: int, lo: float = 0.0, hi: float = 255.0) -> np.ndarray:
    """Probabilities of ``model`` on uint8 images in batches; logits are turned into probabilities."""
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].astype(np.float32) / 255.0 * (hi - lo) + lo
        out.append(np.asarray(model.predict_on_batch(xb), dtype=np.float32))
    prob = np.concatenate(out) if out else np.zeros((0, int(model.outputs[0].shape[-1])), np.float32)
    sums = prob.sum(axis=1)
    if len(prob) and (prob.min() < -1e-4 or np.max(np.abs(sums - 1.0)) > 1e-3):
        # Logits, not probabilities: the metrics (and the loss) need probabilities.
        e = np.exp(prob - prob.max(axis=1, keepdims=True))
        prob = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return prob


def _run_spec(run_dir: Path) -> Spec:
    from ferbench.spec import read_resolved

    return read_resolved(RunPaths(run_dir).spec)


def _shape_of(shape: Any, shown: Path) -> tuple[int, str]:
    """``(size, colour)`` of a model input shape ``(batch, h, w, c)``."""
    dims = tuple(shape)
    if len(dims) != 4 or dims[1] is None or dims[1] != dims[2] or dims[3] not in (1, 3):
        raise FerbenchError(f"{shown}: input shape {dims} is not one square grayscale or RGB image")
    return int(dims[1]), "grayscale" if int(dims[3]) == 1 else "rgb"


def load_model(target: str | Path, *, trial: int | None = None, input_range: str = "0-255", batch_size: int = 64,
               threads: int | None = None) -> LoadedModel:
    """Load ``target`` (a run folder, a Keras file or a TFLite file) for scoring images."""
    if input_range not in INPUT_RANGES:
        raise FerbenchError(f"input_range must be one of {', '.join(INPUT_RANGES)} (--input-range on the command line); got {input_range!r}")
    model_path, run_dir = resolve_target(Path(target), trial)
    run_dir = run_dir or run_folder_of(model_path)
    spec = _run_spec(run_dir) if run_dir is not None else None
    if model_path.suffix in TFLITE_SUFFIXES:
        predict, (size, color), k = _tflite(model_path, batch_size, threads)
        runtime = "tflite"
    elif model_path.suffix in KERAS_SUFFIXES:
        from ferbench.model.layers import to_fused
        from ferbench.run.frameworks import quiet_libraries

        quiet_libraries()
        model = to_fused(load_keras_model(model_path))  # the trial predicted with the fused batch norm
        size, color = _shape_of(model.inputs[0].shape, model_path)
        k = int(model.outputs[0].shape[-1])
        lo, hi = INPUT_RANGES[input_range]
        predict = lambda x: keras_probabilities(model, x, batch_size, lo, hi)  # noqa: E731
        runtime = "keras"
    else:
        raise FerbenchError(f"{model_path}: not a model ferbench can load (a run folder, .keras/.h5, or .tflite from ferbench export)")
    classes = tuple(spec.dataset.classes) if spec is not None else tuple(f"class_{i}" for i in range(k))
    if len(classes) != k:
        raise FerbenchError(f"{model_path}: the model has {k} outputs but its run has {len(classes)} classes")
    if trial is None and run_dir is not None and model_path == RunPaths(run_dir).best_model:
        from ferbench.results.read import read_run_record

        trial = read_run_record(RunPaths(run_dir).run_json).best_trial
    return LoadedModel(predict, size, color, classes, model_path, run_dir, trial,
                       spec.dataset.faces if spec is not None else None, runtime, export_of(model_path))


def export_of(model: Path) -> ExportOf | None:
    """The export record beside an exported file (``ferbench export`` writes both in one folder), if any."""
    from ferbench.results.exports import read_export
    from ferbench.results.paths import EXPORT_FILE

    record_path = model.parent / EXPORT_FILE
    if model.suffix in KERAS_SUFFIXES or not record_path.is_file():
        return None
    record = read_export(record_path)
    if not any(f.path == model.name for f in record.files):
        return None  # a record of another file
    tolerance = None if record.parity is None else record.parity.tolerance
    return ExportOf(record.format, tolerance, record.test.accuracy)


def _tflite(path: Path, batch_size: int, threads: int | None) -> tuple[Predict, tuple[int, str], int]:
    from ferbench.export.tflite import interpreter, tflite_predict

    try:
        blob = path.read_bytes()
        probe = interpreter(blob, 1, 1)
    except (OSError, ValueError, RuntimeError) as exc:
        raise FerbenchError(f"{path}: not a TFLite model ({type(exc).__name__}: {str(exc)[:200]})") from None
    shape = probe.get_input_details()[0]["shape"]
    k = int(probe.get_output_details()[0]["shape"][-1])
    return tflite_predict(blob, threads or 1, batch_size), _shape_of([None, *map(int, shape[1:])], path), k
