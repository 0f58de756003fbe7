"""Per-run scores of the best trial and paired tests between runs on the same test set."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ferbench.report.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, McNemar, Scores, holm, mcnemar_exact, scores_from_predictions, scores_from_record
from ferbench.results import Run, TrialRecord
from ferbench.results.paths import PREDICTIONS_FILE

#: Record numbers and recomputed ones may differ by float rounding; more than this is reported.
AGREE = 1e-4


@dataclass
class RunAnalysis:
    """The best trial of one run, scored on test (and validation) from its saved predictions."""

    run: Run
    best: TrialRecord | None
    test: Scores | None
    validation: Scores | None
    y_true: np.ndarray | None = None
    y_pred: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def group(self) -> tuple[str, int]:
        """Runs are compared within one (benchmark, number of classes)."""
        return (self.run.dataset, self.run.num_classes)


def _disagreements(run: Run, best: TrialRecord, test: Scores) -> list[str]:
    if best.test is None:
        return []
    out = []
    for name in ("accuracy", "f1_macro", "precision_macro", "recall_macro"):
        rec = getattr(best.test, name)
        mine = getattr(test, name)
        mine = getattr(mine, "value", mine)
        if abs(rec - mine) > AGREE:
            out.append(f"{run.label}: record of trial {best.number} says test {name} {rec:.4f}, "
                       f"its predictions give {mine:.4f}; the report uses the predictions")
    return out


def analyse(run: Run, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> RunAnalysis:
    """Score ``run``'s best trial: from ``predictions.npz`` (with CIs) or, lacking it, from the record."""
    best = run.best
    if best is None:
        return RunAnalysis(run, None, None, None, notes=[f"{run.label}: no complete trial yet (status {run.status}); nothing to score"])
    classes = run.classes
    if run.has_predictions(best):
        pred = run.predictions(best)
        test = scores_from_predictions(pred.test_y_true, pred.test_y_prob, classes, resamples=resamples, seed=seed)
        validation = scores_from_predictions(pred.validation_y_true, pred.validation_y_prob, classes, resamples=0)
        return RunAnalysis(run, best, test, validation, pred.test_y_true, pred.y_pred("test"), notes=_disagreements(run, best, test))
    assert best.test is not None and best.validation is not None  # a complete record has metrics (schema)
    where = "" if run.folders else " (read from its study: saved predictions are only in the run folders)"
    note = (f"{run.label}: trial {best.number} has no {PREDICTIONS_FILE}{where}; metrics are the record's, "
            "without confidence intervals or paired tests")
    return RunAnalysis(run, best, scores_from_record(best.test, classes), scores_from_record(best.validation, classes), notes=[note])


@dataclass(frozen=True)
class PairTest:
    """Exact McNemar between two runs scored on the very same test samples."""

    a: RunAnalysis
    b: RunAnalysis
    test: McNemar
    p_holm: float


def paired_tests(analyses: Sequence[RunAnalysis]) -> tuple[list[PairTest], list[str]]:
    """McNemar for every pair with the same dataset fingerprint and identical test labels.

    Pairs that cannot be tested are explained in the returned notes. p-values are also
    Holm-adjusted over the pairs tested together, since a table of many pairs invites
    reading the smallest p-value as a discovery.
    """
    notes: list[str] = []
    raw: list[tuple[RunAnalysis, RunAnalysis, McNemar]] = []
    for a, b in itertools.combinations(analyses, 2):
        if a.y_pred is None or b.y_pred is None or a.y_true is None or b.y_true is None:
            continue  # already explained: no predictions
        if a.run.fingerprint != b.run.fingerprint:
            notes.append(f"{a.run.label} and {b.run.label} were scored on different data (fingerprints differ); no paired test")
            continue
        if a.y_true.shape != b.y_true.shape or not np.array_equal(a.y_true, b.y_true):
            notes.append(f"{a.run.label} and {b.run.label} share a fingerprint but their test labels differ; no paired test")
            continue
        raw.append((a, b, mcnemar_exact(a.y_true, a.y_pred, b.y_pred)))
    adjusted = holm([t.p_value for _, _, t in raw])
    return [PairTest(a, b, t, p) for (a, b, t), p in zip(raw, adjusted)], notes
