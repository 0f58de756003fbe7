"""``ferbench export``: a trial's trained model as a SavedModel, a TFLite flatbuffer or an ONNX graph, scored again and timed.

For each trial and format the files go beside the trial
(``trials/<n>/exports/<format>/``) with their record, ``export.json``
(:mod:`ferbench.results.exports`): the exported model's accuracy re-evaluated on the
run's test split through the format's own runtime — a conversion that loses accuracy
shows here, not in the field —, the largest difference in probabilities against the
Keras model on the same images, and its latency on this machine's CPU. A model card
(:mod:`ferbench.export.card`) is written beside every export.

The formats are rows of :data:`ferbench.export.formats.FORMAT_TABLE`:

* ``savedmodel``: Keras's ``Model.export`` (a TensorFlow SavedModel with a ``serve``
  endpoint), scored and timed through ``tf.saved_model.load``;
* ``tflite``: float32; ``tflite-float16``: float16 weights, float32 arithmetic;
  ``tflite-int8``: int8 weights and activations, the activations' ranges calibrated on
  training images (never on test), float32 input and output so it takes the same pixels;
* ``onnx``: tf2onnx at a fixed opset (recorded), run through ONNX Runtime.

The checks of the command line's flags are :mod:`ferbench.cli.export`'s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ferbench._lazy import require
from ferbench.errors import ResultsError
from ferbench.export.formats import FORMAT_TABLE, Format, Target
from ferbench.export.latency import measure, plan_batches
from ferbench.results.disk import disk_reason
from ferbench.results.environment import cpu_name, environment, usable_cpus
from ferbench.results.exports import ExportRecord, Parity, write_export
from ferbench.results.measures import SplitMetrics
from ferbench.results.paths import RunPaths
from ferbench.results.read import check_keras_archive, file_sha256, read_json, read_run_record, read_trial_record
from ferbench.results.records import utc_now
from ferbench.run.session import RunSession

if TYPE_CHECKING:
    import keras


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


# --- one export -----------------------------------------------------------------------------------


def export_one(session: RunSession, trial: int, fmt: Format, model: keras.Model, source: Path,
               keras_proba: np.ndarray) -> Exported:
    """Export ``model`` (trial ``trial``'s) as ``fmt``; score, compare with ``keras_proba`` and time it; write its record."""
    from ferbench.results.metrics import metrics_block
    from ferbench.run.train.tta import tta_proba

    paths, spec, data = session.paths, session.spec, session.load_data()
    folder = paths.export_dir(trial, fmt.name)
    folder.mkdir(parents=True, exist_ok=True)
    target = Target(data, spec.input_shape, int(spec.train.eval_batch_size), usable_cpus())
    written = fmt.write(model, folder, target)
    runtime = fmt.runtime(folder, target)
    x_test, y_test = data.x["test"], np.asarray(data.y["test"], np.int64)
    proba = runtime.predict(x_test)
    test = SplitMetrics.from_dict(metrics_block(y_test, proba, data.classes))
    parity = Parity(round(float(np.max(np.abs(proba - keras_proba))) if len(proba) else 0.0, 8), fmt.tolerance, len(proba))
    tta_method = spec.evaluate.tta if spec.evaluate.tta != "none" else None
    tta_test = None
    if tta_method is not None:
        tta_test = SplitMetrics.from_dict(metrics_block(y_test, tta_proba(runtime.predict, x_test, tta_method, spec.evaluate.crop), data.classes))
    latency = measure(runtime.timed, plan_batches(target.eval_batch), device="cpu", device_name=cpu_name(), runtime=runtime.name,
                      threads=target.threads)
    keras_record = read_trial_record(paths.record(trial))
    record = ExportRecord(
        run_id=session.run_id, trial=trial, format=fmt.name, files=written.files, source_model=str(source.relative_to(paths.root)),
        source_sha256=file_sha256(source), quantization=written.quantization, test=test,
        keras_test_accuracy=None if keras_record.test is None else keras_record.test.accuracy, latency=latency,
        created=utc_now(), tta_method=tta_method, tta_test=tta_test, environment=environment(),
        converter=written.converter, parity=parity,
    )
    write_export(paths.export_record(trial, fmt.name), record)
    return Exported(folder, record)


def keras_probabilities(model: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """The Keras model's probabilities of ``x`` (inference mode), what every format is compared against;
    a chunk of whole batches at a time, so a memory-mapped split is read as used, never copied whole."""
    from ferbench.data.memory import chunk_rows, chunks

    rows = chunk_rows(x.shape, batch_size, itemsize=4)
    parts = [model.predict(np.asarray(part, np.float32), batch_size=batch_size, verbose=0) for _, part in chunks(x, rows)]
    return np.concatenate([np.asarray(p, np.float32) for p in parts]) if parts else np.zeros((0, model.output_shape[-1]), np.float32)


def export_run(run_dir: str | os.PathLike[str], *, formats: Sequence[str], trials: Sequence[int] = (),
               pareto: bool = False) -> list[Exported]:
    """Export trials of a run folder in each format (see the module docstring); returns what was written.

    Everything is checked before any work: the trials and their models, and that no
    format of a trial was exported before (records are never rewritten). ``formats``
    are names of :data:`FORMAT_TABLE` (the command line checks them).
    """
    from ferbench.export.card import write_card
    from ferbench.run.frameworks import quiet_libraries

    session = RunSession.from_folder(Path(run_dir))
    paths = session.paths
    numbers = chosen_trials(paths, trials=trials, pareto=pareto)
    sources = {n: model_file(paths, n) for n in numbers}
    rows = [FORMAT_TABLE[f] for f in dict.fromkeys(formats)]
    done = [paths.export_record(n, f.name) for n in numbers for f in rows if paths.export_record(n, f.name).exists()]
    if done:
        raise ResultsError(f"{done[0]}: trial {done[0].parents[2].name.lstrip('0') or '0'} was exported as {done[0].parent.name} "
                           "already (records are never rewritten); read it with `ferbench report`")
    for module in dict.fromkeys(m for f in rows for m in f.needs):
        require(module)  # a missing extra: its install hint, before any work
    quiet_libraries()
    _cpu_only()
    keras = require("keras")
    out: list[Exported] = []
    for n in numbers:
        check_keras_archive(sources[n])  # a truncated file is "corrupt", not "not found"
        model = keras.models.load_model(sources[n], compile=False)
        keras_proba = keras_probabilities(model, session.load_data().x["test"], int(session.spec.train.eval_batch_size))
        for fmt in rows:
            try:
                done_one = export_one(session, n, fmt, model, sources[n], keras_proba)
                write_card(session, n, done_one.folder, done_one.record)
            except Exception as exc:
                refused = _disk_refused(paths, n, fmt.name, exc)
                if refused is None:
                    raise
                raise refused from None
            out.append(done_one)
        keras.backend.clear_session()
    return out


def _disk_refused(paths: RunPaths, trial: int, fmt: str, exc: BaseException) -> ResultsError | None:
    """A format's export that the disk refused (full, read-only): its half-written folder removed, one line naming it.

    The folder is this export's own (a format exported before is refused up front), so
    removing it leaves the trial as it was and the same command can run again.
    """
    reason = disk_reason(exc)
    if reason is None:
        return None
    folder = paths.export_dir(trial, fmt)
    where = getattr(exc, "filename", None) or folder
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()  # exports/, when this was its only format
    return ResultsError(f"cannot write the {fmt} export of trial {trial} ({where}): {reason}; nothing of it was kept; "
                        "free space (or make the run folder writable), then export again")


def _cpu_only() -> None:
    """Exports are scored and timed on this machine's CPU, where the interpreter runs too."""
    tf = require("tensorflow")
    with contextlib.suppress(RuntimeError):  # devices already in use in this process
        tf.config.set_visible_devices([], "GPU")
