"""``ferbench export``: a trial's trained model as a SavedModel or a TFLite flatbuffer, scored again and timed.

For each trial and format the files go beside the trial
(``trials/<n>/exports/<format>/``) with their record, ``export.json``
(:mod:`ferbench.results.exports`): the exported model's accuracy re-evaluated on the
run's test split through the format's own runtime — a conversion that loses accuracy
shows here, not in the field — and its latency on this machine's CPU.

Formats, all through TensorFlow's own converter:

* ``savedmodel``: Keras's ``Model.export`` (a TensorFlow SavedModel with a ``serve``
  endpoint), scored and timed through ``tf.saved_model.load``;
* ``tflite``: float32; ``tflite-float16``: float16 weights, float32 arithmetic;
  ``tflite-int8``: int8 weights and activations, the activations' ranges calibrated on
  training images (never on test), float32 input and output so it takes the same pixels.

TFLite files run through the LiteRT interpreter (``ai-edge-litert``) where it is
installed, else through TensorFlow's own ``tf.lite.Interpreter`` (deprecated in favour of
LiteRT, same API); the record names the runtime.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench._lazy import native_output_held, require
from ferbench.errors import FerbenchError, ResultsError
from ferbench.results.atomic import write_bytes
from ferbench.results.environment import cpu_name, environment, usable_cpus
from ferbench.results.exports import EXPORT_FORMATS, ExportedFile, ExportRecord, write_export
from ferbench.results.measures import Latency, SplitMetrics
from ferbench.results.paths import RunPaths
from ferbench.results.read import file_sha256, read_json, read_run_record, read_trial_record
from ferbench.results.records import utc_now
from ferbench.run.latency import measure, plan_batches
from ferbench.run.session import RunSession

if TYPE_CHECKING:
    import keras

    from ferbench.run.train.setup import RunData

#: Training images the int8 converter sees to calibrate activation ranges, and the seed that picks them.
CALIBRATION_IMAGES = 500
CALIBRATION_SEED = 0
#: Images per interpreter call when scoring a TFLite file (the last batch is padded).
SCORE_BATCH = 64

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Exported:
    """One format of one trial, written."""

    folder: Path
    record: ExportRecord


# --- which trials, which model files ------------------------------------------------------------


def chosen_trials(paths: RunPaths, *, trials: Sequence[int], pareto: bool) -> list[int]:
    """The trials to export: ``trials``, the run's Pareto set (its best trial for one objective), or its best trial."""
    info = read_run_record(paths.run_json)
    if trials:
        return list(dict.fromkeys(int(n) for n in trials))
    if pareto and info.pareto is not None:
        if not info.pareto:
            raise ResultsError(f"{paths.root}: the run's Pareto set is empty (no complete trial within the bounds yet)")
        return list(info.pareto)
    if info.best_trial is None:
        raise ResultsError(f"{paths.root}: the run has no complete trial to export")
    return [info.best_trial]


def model_file(paths: RunPaths, trial: int) -> Path:
    """The saved Keras model of ``trial``: its own (a multi-objective run's Pareto trials) or ``best/`` when it is the best."""
    own = paths.trial_model(trial)
    if own.is_file():
        return own
    if paths.best_info.is_file() and paths.best_model.is_file() and int(read_json(paths.best_info).get("trial", -1)) == trial:
        return paths.best_model
    if not paths.record(trial).is_file():
        raise ResultsError(f"{paths.root}: no trial {trial} (no {paths.record(trial).relative_to(paths.root)})")
    raise ResultsError(f"{paths.root}: trial {trial}'s model was not kept: a run keeps the model of its best trial "
                       "(best/model.keras) and, with several objectives, of each trial on the Pareto front when it finished; "
                       "export the best trial (no --trial) or the Pareto set (--pareto)")


# --- conversion -----------------------------------------------------------------------------------


def calibration_images(data: RunData, n: int = CALIBRATION_IMAGES, seed: int = CALIBRATION_SEED) -> np.ndarray:
    """Up to ``n`` training images, picked at random with ``seed``, as float32 pixels in [0, 255]."""
    x = data.x["train"]
    pick = np.sort(np.random.default_rng(seed).choice(len(x), size=min(n, len(x)), replace=False))
    return np.asarray(x[pick], dtype=np.float32)


def to_tflite(model: keras.Model, fmt: str, calibration: np.ndarray | None = None) -> bytes:
    """The model as a TFLite flatbuffer: float32, float16 weights, or int8 calibrated on ``calibration``."""
    tf = require("tensorflow")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if fmt == "tflite-float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif fmt == "tflite-int8":
        if calibration is None or not len(calibration):
            raise ValueError("int8 needs calibration images")
        images = calibration

        def representative() -> Iterator[list[np.ndarray]]:
            for i in range(len(images)):
                yield [images[i:i + 1]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with native_output_held(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "statistics for quantized inputs were expected": the input stays float32
        blob: bytes = converter.convert()
    return blob


def interpreter_class() -> tuple[Any, str]:
    """``(Interpreter class, runtime name)``: LiteRT's where installed, else TensorFlow's ``tf.lite.Interpreter``."""
    try:
        import ai_edge_litert
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, f"litert {getattr(ai_edge_litert, '__version__', '?')}"
    except ImportError:
        tf = require("tensorflow")
        return tf.lite.Interpreter, f"tflite (tensorflow {tf.__version__})"


def interpreter(blob: bytes, batch_size: int, threads: int) -> Any:
    """A TFLite interpreter of ``blob`` whose input takes batches of ``batch_size``, tensors allocated."""
    cls, _ = interpreter_class()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice (the record names the runtime)
        with native_output_held():
            it = cls(model_content=blob, num_threads=threads)
    inp = it.get_input_details()[0]
    if int(inp["shape"][0]) != batch_size:
        it.resize_tensor_input(inp["index"], [batch_size, *[int(v) for v in inp["shape"][1:]]])
    with native_output_held():
        it.allocate_tensors()
    return it


def tflite_call(it: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``x -> probabilities`` through one interpreter (``x`` of its batch size, float32)."""
    inp, out = it.get_input_details()[0], it.get_output_details()[0]

    def call(x: np.ndarray) -> np.ndarray:
        it.set_tensor(inp["index"], x)
        it.invoke()
        return np.asarray(it.get_tensor(out["index"]), dtype=np.float32)

    return call


def tflite_predict(blob: bytes, threads: int, batch_size: int = SCORE_BATCH) -> Predict:
    """Probabilities of a TFLite model on uint8 images, in batches (the last one padded)."""
    call = tflite_call(interpreter(blob, batch_size, threads))

    def predict(x: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(x), batch_size):
            xb = np.asarray(x[i:i + batch_size], dtype=np.float32)
            n = len(xb)
            if n < batch_size:
                xb = np.concatenate([xb, np.zeros((batch_size - n, *xb.shape[1:]), np.float32)])
            out.append(call(xb)[:n])
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    return predict


def saved_model_predict(folder: Path, batch_size: int) -> tuple[Predict, Callable[[np.ndarray], np.ndarray]]:
    """``(predict on uint8 images in batches, one call on a float32 batch)`` through a loaded SavedModel."""
    tf = require("tensorflow")
    loaded = tf.saved_model.load(str(folder))  # held by the closure: its variables die with it

    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(loaded.serve(tf.constant(x)).numpy(), dtype=np.float32)

    def predict(x: np.ndarray) -> np.ndarray:
        return np.concatenate([call(np.asarray(x[i:i + batch_size], np.float32)) for i in range(0, len(x), batch_size)])

    return predict, call


# --- one export -----------------------------------------------------------------------------------


def _write_format(model: keras.Model, fmt: str, folder: Path, data: RunData) -> tuple[list[ExportedFile], dict[str, Any] | None]:
    """Write the files of one format into ``folder``; ``(files, quantization)``."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "savedmodel":
        target = folder / "saved_model"
        with tempfile.TemporaryDirectory(dir=folder, prefix=".saved_model-") as tmp:
            staged = Path(tmp) / "saved_model"
            with native_output_held():
                model.export(str(staged), format="tf_saved_model", verbose=False)
            if target.exists():
                shutil.rmtree(target)  # a half-made folder of an export that died: its record was never written
            os.replace(staged, target)
        files = sorted(p for p in target.rglob("*") if p.is_file())
        return [ExportedFile(str(p.relative_to(folder)), p.stat().st_size, file_sha256(p)) for p in files], None
    calibration = calibration_images(data) if fmt == "tflite-int8" else None
    blob = to_tflite(model, fmt, calibration)
    path = write_bytes(folder / "model.tflite", blob)
    quantization: dict[str, Any] | None = None
    if fmt == "tflite-float16":
        quantization = {"weights": "float16", "activations": "float32"}
    elif fmt == "tflite-int8":
        assert calibration is not None
        quantization = {"weights": "int8", "activations": "int8",
                        "calibration": {"split": "train", "images": int(len(calibration)), "seed": CALIBRATION_SEED}}
    return [ExportedFile(path.name, len(blob), hashlib.sha256(blob).hexdigest())], quantization


def export_one(session: RunSession, trial: int, fmt: str, model: keras.Model, source: Path) -> Exported:
    """Export ``model`` (trial ``trial``'s) as ``fmt``; score and time it; write its record."""
    from ferbench.results.metrics import metrics_block
    from ferbench.run.train.tta import tta_proba

    paths, spec = session.paths, session.spec
    data = session.load_data()
    folder = paths.export_dir(trial, fmt)
    files, quantization = _write_format(model, fmt, folder, data)
    threads = usable_cpus()
    large = int(spec.train.eval_batch_size)
    shape = spec.input_shape
    if fmt == "savedmodel":
        predict, call = saved_model_predict(folder / "saved_model", large)
        tf = require("tensorflow")
        runtime = f"tensorflow {tf.__version__} (SavedModel)"

        def make_call(batch_size: int) -> Callable[[], object]:
            x = _images(batch_size, shape)
            return lambda: call(x)
    else:
        blob = (folder / "model.tflite").read_bytes()
        predict = tflite_predict(blob, threads)
        runtime = interpreter_class()[1]

        def make_call(batch_size: int) -> Callable[[], object]:
            x, one = _images(batch_size, shape), tflite_call(interpreter(blob, batch_size, threads))
            return lambda: one(x)
    x_test, y_test = data.x["test"], np.asarray(data.y["test"], np.int64)
    test = SplitMetrics.from_dict(metrics_block(y_test, predict(x_test), data.classes))
    tta_method = spec.evaluate.tta if spec.evaluate.tta != "none" else None
    tta_test = None
    if tta_method is not None:
        tta_test = SplitMetrics.from_dict(metrics_block(y_test, tta_proba(predict, x_test, tta_method, spec.evaluate.crop), data.classes))
    latency: Latency = measure(make_call, plan_batches(large), device="cpu", device_name=cpu_name(), runtime=runtime, threads=threads)
    keras_record = read_trial_record(paths.record(trial))
    record = ExportRecord(
        run_id=session.run_id, trial=trial, format=fmt, files=tuple(files), source_model=str(source.relative_to(paths.root)),
        source_sha256=file_sha256(source), quantization=quantization, test=test,
        keras_test_accuracy=None if keras_record.test is None else keras_record.test.accuracy, latency=latency,
        created=utc_now(), tta_method=tta_method, tta_test=tta_test, environment=environment(),
    )
    write_export(paths.export_record(trial, fmt), record)
    return Exported(folder, record)


def _images(batch_size: int, shape: tuple[int, int, int]) -> np.ndarray:
    from ferbench.run.latency import images

    return images(batch_size, shape)


def export_run(run_dir: str | os.PathLike[str], *, formats: Sequence[str], trials: Sequence[int] = (),
               pareto: bool = False) -> list[Exported]:
    """Export trials of a run folder in each format (see the module docstring); returns what was written.

    Everything is checked before any work: the formats, the trials and their models, and
    that no format of a trial was exported before (records are never rewritten).
    """
    from ferbench.run.frameworks import quiet_libraries

    bad = [f for f in formats if f not in EXPORT_FORMATS]
    if bad or not formats:
        raise FerbenchError(f"--format must be one of {', '.join(EXPORT_FORMATS)}; got {', '.join(bad) or 'none'}")
    if trials and pareto:
        raise FerbenchError("give --trial or --pareto, not both")
    session = RunSession.from_folder(Path(run_dir))
    paths = session.paths
    numbers = chosen_trials(paths, trials=trials, pareto=pareto)
    sources = {n: model_file(paths, n) for n in numbers}
    done = [paths.export_record(n, f) for n in numbers for f in dict.fromkeys(formats) if paths.export_record(n, f).exists()]
    if done:
        raise ResultsError(f"{done[0]}: trial {done[0].parents[2].name.lstrip('0') or '0'} was exported as {done[0].parent.name} "
                           "already (records are never rewritten); read it with `ferbench report`")
    quiet_libraries()
    _cpu_only()
    keras = require("keras")
    out: list[Exported] = []
    for n in numbers:
        model = keras.models.load_model(sources[n], compile=False)
        for fmt in dict.fromkeys(formats):
            out.append(export_one(session, n, fmt, model, sources[n]))
        keras.backend.clear_session()
    return out


def _cpu_only() -> None:
    """Exports are scored and timed on this machine's CPU, where the interpreter runs too."""
    import contextlib

    tf = require("tensorflow")
    with contextlib.suppress(RuntimeError):  # devices already in use in this process
        tf.config.set_visible_devices([], "GPU")
