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

from ferbench.data.names import lookup
from ferbench.errors import FerbenchError
from ferbench.report.analysis import RunAnalysis
from ferbench.report.model import Column, Table
from ferbench.report.stats import Estimate, Scores, bootstrap_intervals
from ferbench.results.metrics import Fairness, fairness
from ferbench.results.records import Predictions


def evaluation_tables(a: RunAnalysis, key: str) -> list[Table]:
    """Every table of this module that the run has data for."""
    tables = [t for t in (calibration_table(a, key), soft_label_table(a, key), robustness_table(a, key)) if t is not None]
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
    if a.soft:
        out["soft_labels"] = a.soft
    return out

#: The soft-label table's columns: key in RunAnalysis.soft, heading.
SOFT_COLUMNS = (("nll", "NLL (labels)"), ("soft_nll", "NLL (votes)"), ("ece", "ECE (labels)"), ("soft_ece", "ECE (votes)"),
                ("soft_nll_calibrated", "NLL (votes), after T"), ("soft_ece_calibrated", "ECE (votes), after T"))


def soft_label_table(a: RunAnalysis, key: str) -> Table | None:
    """FER+: NLL and ECE against the majority labels and against each face's vote distribution."""
    if not a.soft:
        return None
    shown = [(k, h) for k, h in SOFT_COLUMNS if any(k in row for row in a.soft.values())]
    t = Table(f"{key}-soft-labels", "Soft labels: NLL and ECE against the FER+ vote distributions",
              [Column("split", "Split")] + [Column(k, h, "frac") for k, h in shown])
    for split, row in a.soft.items():
        t.rows.append({"split": split, **{k: row.get(k) for k, _ in shown}})
    t.notes.append("Votes: each face's FER+ votes over the run's classes as shares (unknown and not-a-face left out). NLL (votes) = "
                   "mean of -sum_k q_k log p_k; ECE (votes): 15 bins, the vote share of the predicted class in place of 0/1 correctness.")
    return t

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


def _predictions(a: RunAnalysis) -> Predictions | None:
    if a.y_true is None or a.y_pred is None or a.best is None or not a.run.has_predictions(a.best):
        return None
    return a.run.predictions(a.best)


def _add_fairness(a: RunAnalysis, attr: str, groups: list[str]) -> None:
    """The fairness of one attribute (replacing one of the same name) from each test sample's value."""
    assert a.y_true is not None and a.y_pred is not None
    a.fairness = [f for f in a.fairness if f.attribute != attr]
    a.groups[attr] = groups
    a.fairness.append(fairness(attr, a.y_true, a.y_pred, groups, a.run.num_classes))


def attach_own_attributes(a: RunAnalysis) -> None:
    """Fairness per attribute the test images carry themselves (RAF-DB's gender, race and age group),
    saved beside the best trial's test predictions (``test_attribute_<name>``)."""
    pred = _predictions(a)
    for attr, values in ({} if pred is None else pred.attributes).items():
        groups = [str(v) for v in values.tolist()]
        if any(groups):
            _add_fairness(a, attr, groups)


def attach_fairness(a: RunAnalysis, attributes: Mapping[str, Mapping[str, str]]) -> None:
    """Fairness per attribute of an attributes file, matched to the best trial's test images by name.

    A row's ``image`` matches a test image's saved name (``test_image``) whole, or its
    file name with or without the extension where only one image has it
    (:mod:`ferbench.data.names`); the rows' order does not matter. Predictions saved
    before names were kept are matched by position (0, 1, ...), with a note.
    """
    pred = _predictions(a)
    if pred is None:
        return
    assert a.y_true is not None
    images = pred.images("test")
    if images is None:
        a.notes.append(f"{a.run.label}: its saved predictions name no test image (written before names were kept); "
                       "the attributes file's `image` column is read as the test sample's position 0, 1, ...")
        table = {str(i): i for i in range(len(a.y_true))}
    else:
        table = lookup([str(n) for n in images.tolist()])
    for attr, values in attributes.items():
        groups = [""] * len(a.y_true)
        unmatched = 0
        for image, value in values.items():
            i = table.get(image, -1)
            if i >= 0:
                groups[i] = value
            else:
                unmatched += 1
        if unmatched:
            a.notes.append(f"{a.run.label}: {unmatched} row(s) of the attributes file name no test image of this run; left out of {attr}")
        if not any(groups):
            a.notes.append(f"{a.run.label}: no test image has a {attr} in the attributes file; no fairness table for it")
            continue
        _add_fairness(a, attr, groups)


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
