"""Scoring a trained model: validation and test, with and without test-time augmentation, and the extra test sets.

One function for every scorer (a trial, ``ferbench evaluate``): it takes a
``predict(images) -> probabilities`` function, so it does not care how the model
is called. The plain numbers are always there and always come first (the best
trial is chosen on them); test-time augmentation (``evaluate.tta``) and extra test
sets (``evaluate.on``) add their metrics and arrays beside them. No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ferbench.results.calibration import apply_temperature, fit_temperature
from ferbench.results.measures import CalibrationMetrics, RobustnessMetrics, SplitMetrics, TTAMetrics
from ferbench.results.metrics import metrics_block
from ferbench.results.records import SCORED_SPLITS, Predictions
from ferbench.run.train.setup import RunData
from ferbench.run.train.tta import tta_proba
from ferbench.spec.types import EvaluateSpec, RobustnessSpec

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Scored:
    """Everything a trial's record and ``predictions.npz`` hold about its model's answers."""

    validation: SplitMetrics
    test: SplitMetrics
    predictions: Predictions
    tta: TTAMetrics | None = None
    cross: dict[str, SplitMetrics] = field(default_factory=dict)
    calibration: CalibrationMetrics | None = None
    robustness: RobustnessMetrics | None = None


def score_model(predict: Predict, data: RunData, evaluate: EvaluateSpec, *, splits: dict[str, str] | None = None,
                seed: int = 0, batch_size: int = 1) -> Scored:
    """Metrics and predictions of ``predict`` on validation and test (``splits`` maps a block to the split
    it scores, for ``ferbench evaluate --split``), with test-time augmentation, on extra test sets,
    calibrated (``evaluate.calibrate``) and under corruptions (``evaluate.robustness``, seeded by ``seed``).

    Test-time augmentation and corruptions work on a chunk of images at a time (:func:`chunk_rows`, a
    multiple of ``predict``'s ``batch_size``, so its batches and numbers are those of one pass): a
    memory-mapped split is read as used, and their copies stay a chunk in size whatever the split's."""
    from ferbench.data.memory import chunk_rows

    def rows(x: np.ndarray) -> int:
        return chunk_rows(x.shape, batch_size, itemsize=4)

    tta = evaluate.tta if evaluate.tta != "none" else None
    sources = splits or {s: s for s in SCORED_SPLITS}
    plain: dict[str, SplitMetrics] = {}
    augmented: dict[str, SplitMetrics] = {}
    arrays: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for block in SCORED_SPLITS:
        x, y = data.x[sources[block]], np.asarray(data.y[sources[block]], dtype=np.int64)
        prob = _plain(predict, x, rows(x))
        extra.update(sample_arrays(data, block, sources[block]))
        plain[block] = SplitMetrics.from_dict(metrics_block(y, prob, data.classes, votes=extra.get(f"{block}_y_soft")))
        arrays[f"{block}_y_true"], arrays[f"{block}_y_prob"] = y, prob
        if tta:
            aug = tta_proba(predict, x, tta, evaluate.crop, rows(x))
            augmented[block] = SplitMetrics.from_dict(metrics_block(y, aug, data.classes))
            extra[f"{block}_y_prob_tta"] = aug
    cross: dict[str, SplitMetrics] = {}
    cross_tta: dict[str, SplitMetrics] = {}
    for name, c in data.cross.items():
        y, prob = c.mapping.apply(c.y, np.asarray(predict(c.x), dtype=np.float32))
        cross[name] = SplitMetrics.from_dict(metrics_block(y, prob, c.mapping.classes))
        extra[f"cross_{name}_y_true"], extra[f"cross_{name}_y_prob"] = y, prob
        if tta:
            _, aug = c.mapping.apply(c.y, tta_proba(predict, c.x, tta, evaluate.crop, rows(c.x)))
            cross_tta[name] = SplitMetrics.from_dict(metrics_block(y, aug, c.mapping.classes))
            extra[f"cross_{name}_y_prob_tta"] = aug
    calibration = calibrate({**arrays, **extra}, data.classes) if evaluate.calibrate == "temperature" else None
    robustness = None
    if evaluate.robustness is not None:
        x_test = data.x[sources["test"]]
        robustness = robustness_metrics(predict, x_test, arrays["test_y_true"], evaluate.robustness, plain["test"].accuracy, seed,
                                        rows=rows(x_test))
    return Scored(
        validation=plain["validation"], test=plain["test"], predictions=Predictions(**arrays, extra=extra),
        tta=TTAMetrics(tta, augmented["validation"], augmented["test"], cross_tta) if tta else None, cross=cross,
        calibration=calibration, robustness=robustness,
    )


def _plain(predict: Predict, x: np.ndarray, rows: int) -> np.ndarray:
    """``predict`` on ``x``: in one call, or a memory-mapped ``x`` a chunk at a time (its pages let go after each)."""
    from ferbench.data.memory import chunks, is_mapped

    if not is_mapped(x) or len(x) <= rows:
        return np.asarray(predict(x), dtype=np.float32)
    return np.concatenate([np.asarray(predict(part), dtype=np.float32) for _, part in chunks(x, rows)])


def sample_arrays(data: RunData, block: str, split: str) -> dict[str, np.ndarray]:
    """What ``predictions.npz`` keeps of each scored sample besides its answer: its name
    (``<block>_image``), its FER+ vote distribution (``<block>_y_soft``) and, on test, its
    attributes (``test_attribute_<name>``), where the data has them."""
    out: dict[str, np.ndarray] = {}
    if split in data.images:
        out[f"{block}_image"] = np.asarray(data.images[split], dtype=str)
    if split in data.votes:
        out[f"{block}_y_soft"] = np.asarray(data.votes[split], dtype=np.float32)
    if block == "test":
        out.update({f"test_attribute_{a}": np.asarray(v, dtype=str) for a, v in data.attributes.get(split, {}).items()})
    return out


def calibrate(arrays: dict[str, Any], classes: tuple[str, ...]) -> CalibrationMetrics:
    """Temperature scaling fitted on the validation probabilities, applied to validation and test."""
    t = fit_temperature(arrays["validation_y_true"], arrays["validation_y_prob"])
    blocks = {b: SplitMetrics.from_dict(metrics_block(arrays[f"{b}_y_true"], apply_temperature(arrays[f"{b}_y_prob"], t), classes,
                                                      votes=arrays.get(f"{b}_y_soft")))
              for b in SCORED_SPLITS}
    return CalibrationMetrics("temperature", t, blocks["validation"], blocks["test"])


def robustness_metrics(predict: Predict, x: np.ndarray, y: np.ndarray, spec: RobustnessSpec, clean: float,
                       seed: int, rows: int | None = None) -> RobustnessMetrics:
    """Accuracy of ``predict`` on corrupted copies of ``x``, per corruption and severity, ``rows`` images at a
    time (default: a chunk of :data:`ferbench.data.memory.CHUNK_BYTES`): the same bytes as one pass."""
    from ferbench.data.corruptions import corrupt_chunks
    from ferbench.data.memory import chunk_rows

    step = rows or chunk_rows(x.shape, itemsize=4)
    accuracy: dict[str, tuple[float, ...]] = {}
    for name in spec.corruptions:
        scores = []
        for s in spec.severities:
            hits = sum(int(np.sum(np.asarray(predict(part)).argmax(axis=1) == y[start : start + len(part)]))
                       for start, part in corrupt_chunks(x, name, s, seed, step))
            scores.append(hits / len(y) if len(y) else 0.0)
        accuracy[name] = tuple(scores)
    return RobustnessMetrics(seed=seed, severities=spec.severities, clean=clean, accuracy=accuracy)
