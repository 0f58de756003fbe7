"""Per-run tables of the evaluation protocols beyond plain scores: calibration, robustness to
corruptions, and fairness across groups. Numbers come from :mod:`ferbench.results.metrics`
(recomputed from saved predictions where they are) and the records; bootstrap intervals
from :mod:`ferbench.report.stats`."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ferbench.errors import FerbenchError
from ferbench.report.analysis import RunAnalysis
from ferbench.report.model import Column, Table
from ferbench.report.stats import Estimate, Scores, bootstrap_intervals
from ferbench.results.metrics import Fairness, fairness


def evaluation_tables(a: RunAnalysis, key: str) -> list[Table]:
    """Every table of this module that the run has data for."""
    tables = [t for t in (calibration_table(a, key), robustness_table(a, key)) if t is not None]
    return tables + [fairness_table(a, f, key) for f in a.fairness]


def evaluation_data(a: RunAnalysis) -> dict[str, Any]:
    """Calibration, robustness and fairness numbers of one run for the JSON report."""
    out: dict[str, Any] = {}
    if a.calibrated is not None and a.calibrated_validation is not None:
        out["calibration"] = {"method": "temperature", "temperature": a.temperature,
                              "test": {k: _value(a.calibrated, k) for k, _ in CALIBRATION_ROWS},
                              "validation": {k: _value(a.calibrated_validation, k) for k, _ in CALIBRATION_ROWS}}
    if a.best is not None and a.best.robustness is not None:
        out["robustness"] = {**a.best.robustness.to_dict(), "mean": a.best.robustness.mean()}
    if a.fairness:
        out["fairness"] = [fairness_data(f) for f in a.fairness]
    return out

CALIBRATION_ROWS = (("loss", "NLL"), ("ece", "ECE (15 bins)"), ("brier", "Brier score"), ("accuracy", "Accuracy"))


def _value(s: Scores, key: str) -> float | None:
    v = getattr(s, key)
    return v.value if isinstance(v, Estimate) else v


def calibration_table(a: RunAnalysis, key: str) -> Table | None:
    """NLL, ECE and Brier before and after temperature scaling, on validation (where it was fitted) and test."""
    if a.calibrated is None or a.calibrated_validation is None or a.test is None or a.validation is None:
        return None
    t = Table(f"{key}-calibration", f"Calibration: temperature scaling (T = {a.temperature:.3f}, fitted on validation)", [
        Column("metric", "Metric"), Column("validation_before", "Validation before", "frac"),
        Column("validation_after", "Validation after", "frac"), Column("test_before", "Test before", "frac"),
        Column("test_after", "Test after", "frac")])
    for k, label in CALIBRATION_ROWS:
        t.rows.append({"metric": label, "validation_before": _value(a.validation, k), "validation_after": _value(a.calibrated_validation, k),
                       "test_before": _value(a.test, k), "test_after": _value(a.calibrated, k)})
    t.notes.append("One temperature T divides the log-probabilities (softmax(log p / T)); it minimises the validation NLL. "
                   "T > 1 softens an over-confident model; the predicted class, hence accuracy, does not change.")
    return t


def robustness_table(a: RunAnalysis, key: str) -> Table | None:
    """Test accuracy per corruption and severity, the mean, and the relative drop from clean accuracy."""
    r = None if a.best is None else a.best.robustness
    if r is None:
        return None
    cols = [Column("corruption", "Corruption")] + [Column(f"s{s}", f"Severity {s}", "pct") for s in r.severities]
    cols += [Column("mean", "Mean", "pct"), Column("drop", "Relative drop", "pct")]
    t = Table(f"{key}-robustness", f"Robustness: test accuracy under corruptions (clean {100 * r.clean:.2f}%)", cols)
    for name, accs in r.accuracy.items():
        mean = float(np.mean(accs))
        t.rows.append({"corruption": name, **{f"s{s}": v for s, v in zip(r.severities, accs, strict=True)}, "mean": mean,
                       "drop": (r.clean - mean) / r.clean if r.clean > 0 else None})
    per_severity = {f"s{s}": float(np.mean([v[i] for v in r.accuracy.values()])) for i, s in enumerate(r.severities)}
    mean = r.mean()
    t.rows.append({"corruption": "mean over corruptions", **per_severity, "mean": mean,
                   "drop": (r.clean - mean) / r.clean if r.clean > 0 else None})
    t.notes.append(f"Each corruption is a seeded array transform of the test images (seed {r.seed}); occlusions cover fixed regions "
                   "of a 48x48 aligned face, scaled to the input. Relative drop = (clean - mean) / clean.")
    return t


def read_attributes(path: Path) -> dict[str, dict[str, str]]:
    """``image,attribute,...`` CSV -> attribute -> image -> value."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise FerbenchError(f"{path}: cannot read the attributes file ({exc.strerror})") from None
    if not rows or "image" not in rows[0]:
        raise FerbenchError(f"{path}: an attributes file is a CSV with a header `image,<attribute>,...`; add the header")
    attrs = [k for k in rows[0] if k != "image"]
    if not attrs:
        raise FerbenchError(f"{path}: no attribute columns besides `image`; add one (e.g. gender)")
    return {k: {str(r["image"]): str(r.get(k) or "") for r in rows} for k in attrs}


def attach_fairness(a: RunAnalysis, attributes: Mapping[str, Mapping[str, str]]) -> None:
    """Fairness per attribute of the best trial's test predictions.

    A test image is matched by its name where the saved predictions carry the names
    (``test_image``), else by its position in the test split (0, 1, ...).
    """
    if a.y_true is None or a.y_pred is None or a.best is None:
        return
    images = a.run.predictions(a.best).extra.get("test_image")
    names = [str(n) for n in images] if images is not None else [str(i) for i in range(len(a.y_true))]
    for attr, values in attributes.items():
        a.groups[attr] = [values.get(n, "") for n in names]
        if not any(a.groups[attr]):
            a.notes.append(f"{a.run.label}: no test image has a {attr} in the attributes file; no fairness table for it")
            continue
        a.fairness.append(fairness(attr, a.y_true, a.y_pred, a.groups[attr], a.run.num_classes))


def fairness_table(a: RunAnalysis, f: Fairness, key: str) -> Table:
    """Accuracy and macro F1 per group, with bootstrap intervals; the worst group, the gap and the equalized-odds gap."""
    t = Table(f"{key}-fairness-{f.attribute}", f"Fairness across {f.attribute} (test)", [
        Column("group", f.attribute), Column("n", "n", "int"), Column("accuracy", "Accuracy", "frac"),
        Column("f1_macro", "F1 (macro)", "frac"), Column("worst", "Worst group", "bool")])
    worst = f.worst
    assert a.y_true is not None and a.y_pred is not None
    g = np.asarray(a.groups[f.attribute], dtype=object)
    for s in f.groups:
        mask = g == s.group
        ci = bootstrap_intervals(a.y_true[mask], a.y_pred[mask], a.run.num_classes)
        t.rows.append({"group": s.group, "n": s.n, "accuracy": Estimate(s.accuracy, *ci["accuracy"]),
                       "f1_macro": Estimate(s.f1_macro, *ci["f1_macro"]), "worst": worst is not None and s.group == worst.group})
    t.notes.append(f"Largest accuracy gap between groups: {f.accuracy_gap:.4f}; equalized-odds gap (largest difference across groups "
                   f"of a class's recall or false-positive rate): {f.equalized_odds_gap:.4f}. 95% percentile-bootstrap intervals "
                   "within each group.")
    return t


def fairness_data(f: Fairness) -> dict[str, Any]:
    """Machine-readable fairness numbers for the JSON report."""
    worst = f.worst
    return {"attribute": f.attribute, "worst_group": None if worst is None else worst.group, "accuracy_gap": f.accuracy_gap,
            "equalized_odds_gap": f.equalized_odds_gap,
            "groups": [{"group": s.group, "n": s.n, "accuracy": s.accuracy, "f1_macro": s.f1_macro,
                        "recall": [None if np.isnan(v) else v for v in s.recall],
                        "fpr": [None if np.isnan(v) else v for v in s.fpr]} for s in f.groups]}
