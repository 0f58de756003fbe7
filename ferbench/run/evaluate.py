"""``ferbench evaluate``: metrics of a saved Keras model on a spec's data.

The model may be ferbench's (a run folder's ``best/model.keras``) or any Keras
model file whose input matches the spec's images and whose outputs are the
spec's classes in the spec's order. The result is written as a one-trial run
folder — run.json, spec.resolved.yaml, trials/0000/{record.json, history.csv,
predictions.npz} — so reports read it like any other run and external models
enter the comparison tables.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ferbench.errors import FerbenchError, ResultsError
from ferbench.run.records import RunPaths, TrialOutcome, read_json, run_dict, utc_now, write_trial
from ferbench.run.atomic import write_json, write_text

#: Input conventions a model may expect; ferbench's own models take 0..255.
INPUT_RANGES = {"0-255": (0.0, 255.0), "0-1": (0.0, 1.0), "-1-1": (-1.0, 1.0)}
OBJECTIVE_KEYS = {"val_loss": "loss", "val_accuracy": "accuracy", "val_f1_macro": "f1_macro"}


@dataclass
class Evaluation:
    folder: Path
    info: dict[str, Any]
    record: dict[str, Any]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_target(target: Path) -> tuple[Path, Path | None]:
    """``(model file, run folder or None)`` for a model file or a run folder."""
    if target.is_dir():
        model = RunPaths(target).best_model
        if not model.exists():
            raise ResultsError(f"{target}: no best/model.keras (is it a run folder with a complete trial?)")
        return model, target
    if not target.exists():
        raise FerbenchError(f"{target}: no such model file or run folder")
    return target, None


def check_model(model: Any, input_shape: tuple[int, int, int], num_classes: int, shown: str) -> None:
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


def _probabilities(model: Any, x: np.ndarray, batch_size: int, lo: float, hi: float) -> np.ndarray:
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


def evaluate_model(target: str | Path, *, spec_path: str | Path | None = None, sets: Sequence[str] = (),
                   split: str = "test", out: str | Path | None = None, input_range: str = "0-255") -> Evaluation:
    """Evaluate a model file or a run folder's best model on a spec's data; write the record."""
    from ferbench._lazy import require
    from ferbench.plan import plan_spec
    from ferbench.run.metrics import metrics_block
    from ferbench.run.runner import dataset_info, load_run_data, quiet_libraries, select_devices
    from ferbench.run.progress import Reporter
    from ferbench.run.space import effective
    from ferbench.spec import dump_yaml, load_spec, read_resolved

    if split not in ("train", "validation", "test"):
        raise FerbenchError(f"--split must be train, validation or test; got {split!r}")
    if input_range not in INPUT_RANGES:
        raise FerbenchError(f"--input-range must be one of {', '.join(INPUT_RANGES)}; got {input_range!r}")
    model_path, run_dir = resolve_target(Path(target))
    if spec_path is not None:
        spec = load_spec(spec_path, list(sets))
    elif run_dir is not None:
        spec = read_resolved(RunPaths(run_dir).spec)
    else:
        raise FerbenchError("--spec is needed to evaluate a model file (it says which data to use)")
    runs = plan_spec(spec).runs
    if len({(repr(r.spec.raw.get("dataset")), r.seed) for r in runs}) > 1:
        raise FerbenchError("the spec expands into runs with different data (matrix or seeds); fix one with --set")
    planned = runs[0]
    spec = planned.spec

    quiet_libraries()
    slots = select_devices(spec.runtime)
    keras = require("keras")
    data, loaded = load_run_data(spec, planned.seed, Reporter())
    trained_on = None
    if run_dir is not None:
        trained_on = read_json(RunPaths(run_dir).run_json)
        if list(trained_on["dataset"]["classes"]) != list(data.classes):
            raise FerbenchError(f"{run_dir}: the model's classes {trained_on['dataset']['classes']} differ from the spec's {list(data.classes)}")
    from ferbench.model.layers import to_fused

    # Saved models hold Keras's batch norm; the trial predicted with the fused one.
    model = to_fused(keras.models.load_model(model_path, compile=False))
    check_model(model, spec.input_shape, spec.num_classes, str(model_path))

    started = utc_now()
    t0 = time.monotonic()
    lo, hi = INPUT_RANGES[input_range]
    bs = spec.train.eval_batch_size
    metrics, preds = {}, {}
    for block, source in (("validation", "validation"), ("test", split)):
        y = np.asarray(data.y[source], dtype=np.int64)
        prob = _probabilities(model, data.x[source], bs, lo, hi)
        metrics[block] = metrics_block(y, prob, data.classes)
        preds[f"{block}_y_true"], preds[f"{block}_y_prob"] = y, prob
    eval_s = time.monotonic() - t0

    digest = hashlib.sha256(f"{planned.spec_hash}:{_sha256(model_path)}:{split}:{input_range}".encode()).hexdigest()
    run_id = digest[:12]
    folder = Path(out) if out else Path(spec.results) / spec.name / f"eval-{run_id}"
    paths = RunPaths(folder)
    best = None
    if trained_on is not None and trained_on.get("best_trial") is not None:
        best = read_json(RunPaths(run_dir).trial(int(trained_on["best_trial"])) / "record.json")
    hp = dict(best["hyperparameters"]) if best else effective(spec, {})
    hp["model_file"] = model_path.name
    hp["external"] = best is None
    value = metrics["validation"][OBJECTIVE_KEYS[spec.search.metric]]
    outcome = TrialOutcome(
        number=0, state="complete", error=None, params=dict(best["params"]) if best else {}, hyperparameters=hp,
        cost={"params": int(model.count_params()), "macs": (best or {}).get("cost", {}).get("macs")},
        history={}, best_epoch=None, objective=float(value), metrics=metrics, class_weight=None,
        train_s=0.0, eval_s=eval_s, epoch_s=[], seed=int(planned.seed), started=started, finished=utc_now(),
        predictions=preds,
    )
    ds = dataset_info(spec, data, loaded)
    ds["class_weight"] = None
    if split != "test":  # the record's test block holds another split: say which
        ds["splits"] = dict(ds["splits"], test=ds["splits"].get(split, split))
        ds["sizes"] = dict(ds["sizes"], test=len(data.y[split]))
    from ferbench.run.env import environment

    info = run_dict(run_id=run_id, spec_name=spec.name, spec_hash=planned.spec_hash, matrix_cell=planned.matrix_cell,
                    seed=planned.seed, metric=spec.search.metric, direction=spec.search.direction, target=1,
                    dataset=ds, environment=environment(), devices=slots, storage="none")
    info.update(status="complete", trials={"target": 1, "complete": 1, "failed": 0, "pruned": 0}, best_trial=0,
                wall_time_s=round(eval_s, 3))
    write_text(paths.spec, dump_yaml(spec.raw))
    write_trial(paths, run_id, outcome)
    write_json(paths.run_json, info)
    return Evaluation(folder, info, read_json(paths.trial(0) / "record.json"))
