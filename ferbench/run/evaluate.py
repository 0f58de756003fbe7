"""``ferbench evaluate``: metrics of a saved Keras model on a spec's data.

Models are loaded through :mod:`ferbench.predict.loader`, as ``ferbench predict`` loads them.
The model may be ferbench's (a run folder's ``best/model.keras``) or any Keras
model file whose input matches the spec's images and whose outputs are the
spec's classes in the spec's order. The result is written as a one-trial run
folder — run.json, spec.resolved.yaml, trials/0000/{record.json, history.csv,
predictions.npz} — named after the model (or ``--name``), so reports read it like
any other run and external models enter the comparison tables.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferbench.errors import FerbenchError, ResultsError
from ferbench.plan import PlannedRun
from ferbench.predict.loader import INPUT_RANGES, keras_probabilities, load_keras_model, resolve_target
from ferbench.results.environment import environment
from ferbench.results.measures import Cost
from ferbench.results.paths import RunPaths
from ferbench.results.read import file_sha256, read_run_record, read_trial_record
from ferbench.results.records import RunRecord, Timings, TrialCounts, TrialRecord, TrialResult, utc_now
from ferbench.results.staging import staged
from ferbench.results.write import write_run, write_trial
from ferbench.run.session import RunSession

if TYPE_CHECKING:
    import keras

OBJECTIVE_KEYS = {"val_loss": "loss", "val_accuracy": "accuracy", "val_f1_macro": "f1_macro",
                  "val_balanced_accuracy": "balanced_accuracy"}


@dataclass
class Evaluation:
    folder: Path
    record: TrialRecord
    name: str


def check_model(model: keras.Model, input_shape: tuple[int, int, int], num_classes: int, shown: str) -> None:
    """Refuse a model whose input or output does not fit the spec's data."""
    ins = model.inputs
    if len(ins) != 1:
        raise FerbenchError(f"{shown}: the model has {len(ins)} inputs; one image input is needed")
    have = tuple(ins[0].shape[1:])
    if len(have) != 3 or any(h is not None and int(h) != w for h, w in zip(have, input_shape)):
        raise FerbenchError(f"{shown}: model input {have} does not match the spec's images {input_shape} "
                            "(dataset.image_size and dataset.color)")
    out = model.outputs[0].shape
    if int(out[-1]) != num_classes:
        raise FerbenchError(f"{shown}: model has {int(out[-1])} outputs but the spec has {num_classes} classes")


def _session(spec_path: str | Path | None, sets: Sequence[str], run_dir: Path | None) -> RunSession:
    """The session whose data the model is scored on: ``--spec``, else the run folder's own spec."""
    from ferbench.devices import visible_gpus
    from ferbench.plan import plan_spec
    from ferbench.spec import load_spec

    if spec_path is None:
        if run_dir is None:
            raise FerbenchError("--spec is needed to evaluate a model file (it says which data to use)")
        return RunSession.from_folder(run_dir)
    runs: list[PlannedRun] = plan_spec(load_spec(spec_path, list(sets)), gpus=visible_gpus()).runs
    if len({(repr(r.spec.dataset), r.seed) for r in runs}) > 1:
        raise FerbenchError("the spec expands into runs with different data (matrix or seeds); fix one with --set")
    return RunSession(runs[0])


def _name(name: str | None, model_path: Path, run_dir: Path | None, spec_name: str) -> str:
    """What the evaluation is called in reports: ``--name``, the run's spec name, or the model file's name."""
    if name:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}", name):
            raise FerbenchError(f"--name {name!r}: use letters, digits, '_', '.', '+', '-' (at most 64)")
        return name
    if run_dir is not None:
        return spec_name
    stem = re.sub(r"[^A-Za-z0-9_.+-]", "_", model_path.stem)[:64].lstrip("._-")
    return stem or "model"


def _check_options(split: str, input_range: str) -> None:
    if split not in ("train", "validation", "test"):
        raise FerbenchError(f"split must be train, validation or test (--split on the command line); got {split!r}")
    if input_range not in INPUT_RANGES:
        raise FerbenchError(f"input_range must be one of {', '.join(INPUT_RANGES)} (--input-range on the command line); got {input_range!r}")


def refuse_training_run(folder: Path) -> None:
    """``--out`` must not name a training run's folder: an evaluation is a run folder of its own."""
    paths = RunPaths(folder)
    if not paths.run_json.is_file():
        return
    info = read_run_record(paths.run_json)
    if info.storage != "none":  # an evaluation records no study storage; a training run always does
        raise ResultsError(f"--out {folder}: this folder is a training run ({info.spec_name}, run {info.run_id}); "
                           "an evaluation writes a folder of its own: give --out a new folder")


def _new_folder(folder: Path) -> Path:
    """The evaluation's folder, refused where this model was evaluated already (records are never rewritten)."""
    paths = RunPaths(folder)
    if paths.run_json.exists() or paths.record(0).exists():
        raise ResultsError(f"{folder}: this model was evaluated here already (records are never rewritten); "
                           "read it with `ferbench report`, or write to another folder (out=, --out on the command line)")
    if folder.is_dir() and any(folder.iterdir()):
        raise ResultsError(f"{folder}: a folder that is not empty and holds no evaluation; write to a new or empty folder "
                           "(out=, --out on the command line)")
    return folder


def _write_evaluation(session: RunSession, folder: Path, result: TrialResult, info: RunRecord) -> None:
    """The evaluation's folder, whole or not at all: built beside it and renamed into place (a full disk leaves nothing)."""
    try:
        with staged(folder) as staging:
            RunSession(session.planned, folder=staging).write_spec()
            write_trial(RunPaths(staging), result)
            write_run(RunPaths(staging).run_json, info)
    except OSError as exc:
        raise ResultsError(f"--out {folder}: cannot write {exc.filename or folder.parent} ({exc.strerror or exc}); "
                           "nothing was written; free space, then evaluate again") from None


def _trained_best(run_dir: Path | None, classes: list[str]) -> TrialRecord | None:
    """The best trial's record of the run a model comes from (None for a bare model file); its classes must be the spec's."""
    if run_dir is None:
        return None
    trained_on = read_run_record(RunPaths(run_dir).run_json)
    if list(trained_on.dataset.classes) != classes:
        raise FerbenchError(f"{run_dir}: the model's classes {list(trained_on.dataset.classes)} differ from the spec's {classes}")
    if trained_on.best_trial is None:
        return None
    return read_trial_record(RunPaths(run_dir).record(trained_on.best_trial))


def _evaluation_info(session: RunSession, slots: list[str], *, run_id: str, shown: str, split: str, test_size: int, eval_s: float) -> RunRecord:
    """The run record of an evaluation: one model scored, not a search; its test block names the split it holds."""
    ds = session.dataset_info
    splits, sizes = dict(ds.splits), dict(ds.sizes)
    if split != "test":  # the record's test block holds another split: say which
        splits["test"], sizes["test"] = splits.get(split, split), test_size
    return session.fresh_record(slots, storage="none").but(
        run_id=run_id, spec_name=shown, status="complete", trials=TrialCounts(target=1, complete=1), best_trial=0,
        wall_time_s=round(eval_s, 3), objectives=(), pareto=None,  # one model scored, not a search
        dataset=dataclasses.replace(ds, class_weight=None, splits=splits, sizes=sizes),
    )


def evaluate_model(target: str | Path, *, spec_path: str | Path | None = None, sets: Sequence[str] = (),
                   split: str = "test", out: str | Path | None = None, input_range: str = "0-255",
                   name: str | None = None) -> Evaluation:
    """Evaluate a model file or a run folder's best model on a spec's data; write the record."""
    from ferbench.model.layer_macs import keras_macs
    from ferbench.model.layers import to_fused
    from ferbench.run.frameworks import quiet_libraries, select_devices
    from ferbench.run.train.scoring import score_model
    from ferbench.run.train.space import effective

    _check_options(split, input_range)
    if out is not None:
        refuse_training_run(Path(out))
    model_path, run_dir = resolve_target(Path(target))
    session = _session(spec_path, sets, run_dir)
    spec = session.spec
    shown = _name(name, model_path, run_dir, spec.name)

    quiet_libraries()
    slots = select_devices(spec.runtime)
    # Saved models hold Keras's batch norm; the trial predicted with the fused one.
    model = to_fused(load_keras_model(model_path))
    check_model(model, spec.input_shape, spec.num_classes, str(model_path))
    data = session.load_data()
    best = _trained_best(run_dir, list(data.classes))

    started = utc_now()
    t0 = time.monotonic()
    lo, hi = INPUT_RANGES[input_range]
    bs = spec.train.eval_batch_size
    scored = score_model(lambda x: keras_probabilities(model, x, bs, lo, hi), data, spec.evaluate,
                         splits={"validation": "validation", "test": split}, seed=int(session.planned.seed), batch_size=bs)
    metrics = {"validation": scored.validation, "test": scored.test}
    eval_s = time.monotonic() - t0
    from ferbench.export.latency import keras_latency
    from ferbench.model.runtime import on_gpu

    latency = keras_latency(model, spec.input_shape, large_batch=bs, gpu=on_gpu())

    digest = hashlib.sha256(f"{session.planned.spec_hash}:{file_sha256(model_path)}:{split}:{input_range}:{shown}".encode()).hexdigest()
    run_id = digest[:12]
    folder = _new_folder(Path(out) if out else Path(spec.results) / shown / f"eval-{run_id}")
    hp: dict[str, Any] = dict(best.hyperparameters) if best else effective(spec, {})
    hp["model_file"] = model_path.name
    hp["external"] = best is None
    metric = metrics["validation"].to_dict()[OBJECTIVE_KEYS[spec.search.metric]]
    record = TrialRecord(
        run_id=run_id, trial=0, state="complete", error=None, params=dict(best.params) if best else {},
        hyperparameters=hp, cost=Cost(int(model.count_params()), best.cost.macs if best else keras_macs(model)),
        epochs=0, best_epoch=None, objective=float(metric), history={}, class_weight=None,
        timings=Timings(train_s=best.timings.train_s if best else None, eval_s=eval_s), seed=int(session.planned.seed),
        started=started, finished=utc_now(), environment=environment(),
        validation=metrics["validation"], test=metrics["test"], tta=scored.tta, cross=scored.cross, latency=latency,
        calibration=scored.calibration, robustness=scored.robustness,
    )
    info = _evaluation_info(session, slots, run_id=run_id, shown=shown, split=split, test_size=len(data.y[split]), eval_s=eval_s)
    _write_evaluation(session, folder, TrialResult(record, scored.predictions), info)
    return Evaluation(folder, record, shown)
