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

from ferbench.results.measures import SplitMetrics, TTAMetrics
from ferbench.results.metrics import metrics_block
from ferbench.results.records import SCORED_SPLITS, Predictions
from ferbench.run.train.setup import RunData
from ferbench.run.train.tta import tta_proba
from ferbench.spec.types import EvaluateSpec

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Scored:
    """Everything a trial's record and ``predictions.npz`` hold about its model's answers."""

    validation: SplitMetrics
    test: SplitMetrics
    predictions: Predictions
    tta: TTAMetrics | None = None
    cross: dict[str, SplitMetrics] = field(default_factory=dict)


def score_model(predict: Predict, data: RunData, evaluate: EvaluateSpec, *, splits: dict[str, str] | None = None) -> Scored:
    """Metrics and predictions of ``predict`` on validation and test (``splits`` maps a block to the split
    it scores, for ``ferbench evaluate --split``), with test-time augmentation and on extra test sets."""
    tta = evaluate.tta if evaluate.tta != "none" else None
    sources = splits or {s: s for s in SCORED_SPLITS}
    plain: dict[str, SplitMetrics] = {}
    augmented: dict[str, SplitMetrics] = {}
    arrays: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for block in SCORED_SPLITS:
        x, y = data.x[sources[block]], np.asarray(data.y[sources[block]], dtype=np.int64)
        prob = np.asarray(predict(x), dtype=np.float32)
        plain[block] = SplitMetrics.from_dict(metrics_block(y, prob, data.classes))
        arrays[f"{block}_y_true"], arrays[f"{block}_y_prob"] = y, prob
        if tta:
            aug = tta_proba(predict, x, tta, evaluate.crop)
            augmented[block] = SplitMetrics.from_dict(metrics_block(y, aug, data.classes))
            extra[f"{block}_y_prob_tta"] = aug
    cross: dict[str, SplitMetrics] = {}
    cross_tta: dict[str, SplitMetrics] = {}
    for name, c in data.cross.items():
        y, prob = c.mapping.apply(c.y, np.asarray(predict(c.x), dtype=np.float32))
        cross[name] = SplitMetrics.from_dict(metrics_block(y, prob, c.mapping.classes))
        extra[f"cross_{name}_y_true"], extra[f"cross_{name}_y_prob"] = y, prob
        if tta:
            _, aug = c.mapping.apply(c.y, tta_proba(predict, c.x, tta, evaluate.crop))
            cross_tta[name] = SplitMetrics.from_dict(metrics_block(y, aug, c.mapping.classes))
            extra[f"cross_{name}_y_prob_tta"] = aug
    return Scored(
        validation=plain["validation"], test=plain["test"], predictions=Predictions(**arrays, extra=extra),
        tta=TTAMetrics(tta, augmented["validation"], augmented["test"], cross_tta) if tta else None, cross=cross,
    )
