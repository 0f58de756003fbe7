"""A model card beside every export: ``MODEL_CARD.md`` and its JSON twin ``model_card.json``.

The card says what the exported model is and how far it can be trusted: the data and
protocol it was trained and chosen under, the preprocessing its input needs, every
metric the trial's record holds (with 95% intervals for the proportions), the per-class
table, the efficiency figures of the Keras model and of the export, known limits, and
the commands that reproduce it. The JSON twin is checked against
``schemas/model_card.schema.json`` before it is written; the Markdown is rendered from it,
so the two never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferbench.results.atomic import json_clean, write_json, write_text
from ferbench.results.exports import ExportRecord
from ferbench.results.measures import SplitMetrics
from ferbench.results.read import read_run_record, read_trial_record
from ferbench.results.records import RunRecord, TrialRecord

if TYPE_CHECKING:
    from ferbench.run.session import RunSession

CARD_JSON = "model_card.json"
CARD_MD = "MODEL_CARD.md"
CARD_VERSION = 1
#: What a metrics block holds besides its scalar metrics (every other key is one, listed in the block's order).
NOT_SCALAR = ("n", "per_class", "confusion")
#: What every card says it was not checked for (ferbench measures none of it).
NOT_CHECKED = ("age, gender, skin tone or other demographic groups (the datasets carry no such labels here)",
               "posed versus spontaneous expressions, occlusion (masks, glasses), head pose beyond the dataset's",
               "faces that were not detected, aligned and cropped as in the training data")


def wilson(p: float, n: int, z: float = 1.959964) -> tuple[float, float] | None:
    """The 95% Wilson score interval of a proportion ``p`` measured on ``n`` images (``None`` when ``n`` is 0)."""
    if n <= 0:
        return None
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _block(m: SplitMetrics) -> dict[str, Any]:
    """One metrics block of the card: each scalar with its interval (proportions only), the per-class table, the confusion matrix."""
    out: dict[str, Any] = {"images": m.n, "values": {}}
    d = m.to_dict()
    for key, value in d.items():
        if key in NOT_SCALAR:
            continue
        ci = wilson(float(value), m.n) if key == "accuracy" and value is not None else None
        out["values"][key] = {"value": value, "ci95": None if ci is None else [round(ci[0], 6), round(ci[1], 6)]}
    out["per_class"] = {c: {**{k: float(v[k]) for k in ("precision", "recall", "f1")}, "support": int(v["support"]),
                            "recall_ci95": _ci_list(float(v["recall"]), int(v["support"]))} for c, v in m.per_class.items()}
    out["confusion"] = [list(r) for r in m.confusion]
    return out


def _ci_list(p: float, n: int) -> list[float] | None:
    ci = wilson(p, n)
    return None if ci is None else [round(ci[0], 6), round(ci[1], 6)]


def record_blocks(rec: TrialRecord) -> dict[str, SplitMetrics]:
    """Every metrics block of a trial record by name: ``validation``, ``test``, ``tta/<split>``, ``cross/<set>``."""
    blocks: dict[str, SplitMetrics] = {}
    for name, m in (("validation", rec.validation), ("test", rec.test)):
        if m is not None:
            blocks[name] = m
    if rec.tta is not None:
        blocks[f"tta/{rec.tta.method}/validation"] = rec.tta.validation
        blocks[f"tta/{rec.tta.method}/test"] = rec.tta.test
    if rec.calibration is not None:
        blocks[f"calibration/{rec.calibration.method}/validation"] = rec.calibration.validation
        blocks[f"calibration/{rec.calibration.method}/test"] = rec.calibration.test
    blocks.update({f"cross/{k}": v for k, v in rec.cross.items()})
    return blocks


def _efficiency(rec: TrialRecord, export: ExportRecord) -> dict[str, Any]:
    lat = rec.latency
    return {
        "params": rec.cost.params, "macs": rec.cost.macs, "export_bytes": export.size_bytes,
        "keras_latency": None if lat is None else lat.to_dict(), "export_latency": export.latency.to_dict(),
    }


def _limits(run: RunRecord, input_shape: list[int]) -> dict[str, Any]:
    ds = run.dataset
    return {
        "classes": list(ds.classes),
        "input": f"{input_shape[0]}x{input_shape[1]} {ds.color} face crops, {input_shape[2]} channel(s)",
        "trained_on": f"{ds.kind} ({ds.source})" if ds.source else ds.kind,
        "not_checked": list(NOT_CHECKED),
    }


def build_card(session: RunSession, trial: int, export: ExportRecord) -> dict[str, Any]:
    """The card of one export of ``trial`` as the JSON twin holds it."""
    paths, spec = session.paths, session.spec
    run, rec = read_run_record(paths.run_json), read_trial_record(paths.record(trial))
    shape = [int(v) for v in spec.input_shape]
    ds = run.dataset
    card = {
        "card_version": CARD_VERSION,
        "model": {"name": f"{run.spec_name} trial {trial} ({export.format})", "run_id": run.run_id, "trial": trial,
                  "spec_name": run.spec_name, "architecture": str(spec.model.arch), "format": export.format,
                  "files": [f.path for f in export.files], "source": export.source_model, "created": export.created},
        "data": {"dataset": ds.kind, "source": ds.source, "fingerprint": ds.fingerprint, "classes": list(ds.classes),
                 "splits": dict(ds.splits), "images": dict(ds.sizes)},
        "protocol": {"objective": run.objective.metric, "direction": run.objective.direction, "chosen_on": "validation",
                     "trials": run.trials.complete, "seed": rec.seed, "epochs": rec.epochs, "best_epoch": rec.best_epoch,
                     "hyperparameters": dict(rec.hyperparameters)},
        "preprocessing": {"input_shape": shape, "color": ds.color, "pixels": "float32 values in [0, 255]; the model rescales them itself",
                          "face_crop": "as in the training data (no detection or alignment inside the model)"},
        "metrics": {name: _block(m) for name, m in record_blocks(rec).items()},
        "robustness": None if rec.robustness is None else rec.robustness.to_dict(),
        "export": {"test_accuracy": export.test.accuracy, "keras_test_accuracy": export.keras_test_accuracy,
                   "quantization": None if export.quantization is None else dict(export.quantization),
                   "converter": None if export.converter is None else dict(export.converter),
                   "parity": None if export.parity is None else export.parity.to_dict()},
        "efficiency": _efficiency(rec, export),
        "limits": _limits(run, shape),
        "reproduce": [f"ferbench run RUN_FOLDER/{paths.spec.name}  # the resolved spec saved in the run folder ({run.run_id})",
                      f"ferbench export RUN_FOLDER --trial {trial} --format {export.format}"],
    }
    return dict(json_clean(card))


def card_problems(data: object) -> list[str]:
    """Every way ``data`` breaks ``schemas/model_card.schema.json`` (empty when valid)."""
    from ferbench.results.schema import schema_problems

    return schema_problems(data, "model_card.schema.json")


def write_card(session: RunSession, trial: int, folder: Path, export: ExportRecord) -> Path:
    """Write ``model_card.json`` (validated) and ``MODEL_CARD.md`` into ``folder``; the Markdown file's path."""
    from ferbench.export.card_text import card_markdown

    card = build_card(session, trial, export)
    bad = card_problems(card)
    if bad:  # a bug in ferbench, never the user's doing: keep the traceback
        raise ValueError("refusing to write an invalid model card: " + "; ".join(bad[:5]))
    write_json(folder / CARD_JSON, card)
    return write_text(folder / CARD_MD, card_markdown(card))


def metric_names(card: Mapping[str, Any]) -> dict[str, set[str]]:
    """The metric names a card holds per block (what a reader checks against the record)."""
    return {name: set(b["values"]) | {"per_class", "confusion"} for name, b in card["metrics"].items()}
