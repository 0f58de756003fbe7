"""Per-run scores of the best trial and paired tests between runs on the same test set."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ferbench.report.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, McNemar, Scores, holm, mcnemar_exact, scores_from_predictions, scores_from_record
from ferbench.results import Run, TrialRecord
from ferbench.results.health import Health, assess, trial_health
from ferbench.results.metrics import Fairness
from ferbench.results.paths import PREDICTIONS_FILE
from ferbench.results.records import Predictions


def same_experiment(a: Run, b: Run) -> bool:
    """Two runs of one spec, matrix cell and number of folds: folds (and seeds) of one experiment."""
    fa, fb = fold_of(a), fold_of(b)
    return (a.spec_name == b.spec_name and dict(a.info.matrix_cell) == dict(b.info.matrix_cell)
            and (fa[1] if fa else None) == (fb[1] if fb else None))

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
    #: Test-time augmentation (``evaluate.tta``): the method and the test scores with it.
    tta_method: str | None = None
    tta: Scores | None = None
    tta_validation: Scores | None = None
    tta_y_pred: np.ndarray | None = None
    #: Extra test sets (``evaluate.on``) by name, without and with test-time augmentation.
    cross: dict[str, Scores] = field(default_factory=dict)
    cross_tta: dict[str, Scores] = field(default_factory=dict)
    #: ``evaluate.calibrate``: the temperature refitted on the saved validation predictions, and the scores after it.
    temperature: float | None = None
    calibrated: Scores | None = None
    calibrated_validation: Scores | None = None
    #: Per-group scores of each attribute (``report --attributes``).
    fairness: list[Fairness] = field(default_factory=list)
    #: Each attribute's value for every test sample (in prediction order; "" where unknown).
    groups: dict[str, list[str]] = field(default_factory=dict)
    #: FER+ votes saved with the predictions: per split, NLL and ECE against the labels and against the votes.
    soft: dict[str, dict[str, float | None]] = field(default_factory=dict)

    @property
    def health(self) -> Health | None:
        """The best trial's health: its record's ``health``, else (a record older than it) judged from the saved
        validation predictions, else from the record's validation confusion matrix."""
        if self.best is None or self.best.health is not None:
            return None if self.best is None else self.best.health
        if self.validation is not None and self.validation.confusion.size:
            return assess(self.validation.confusion.tolist(), self.run.classes)
        return trial_health(self.best, self.run.classes)

    @property
    def group(self) -> tuple[str, int]:
        """Runs are compared within one (benchmark, number of classes)."""
        return (self.run.dataset, self.run.num_classes)

    @property
    def fold(self) -> tuple[int, int] | None:
        """``(fold, folds)`` of a k-fold run, else ``None``."""
        return fold_of(self.run)


def fold_of(run: Run) -> tuple[int, int] | None:
    """``(fold, folds)`` of a k-fold run (run.json, else its resolved spec), else ``None``."""
    info = run.info.dataset.fold
    if info:
        return int(info["fold"]), int(info["folds"])
    ds = run.spec.get("dataset") or {}
    if isinstance(ds.get("fold"), int) and isinstance(ds.get("folds"), int):
        return int(ds["fold"]), int(ds["folds"])
    return None


def cross_classes(run: Run, name: str, fallback: Sequence[str]) -> list[str]:
    """The classes an extra test set was scored over (run.json's ``dataset.cross``), else ``fallback``."""
    info = (run.info.dataset.cross or {}).get(name) or {}
    return list(info.get("classes") or fallback)


def _extras(a: RunAnalysis, run: Run, best: TrialRecord, pred: Predictions | None, resamples: int, seed: int) -> None:
    """Fill the test-time augmentation and extra-test-set scores of ``a``: from predictions, else from the record."""
    classes = run.classes
    if best.tta is not None:
        a.tta_method = best.tta.method
    test_tta, validation_tta = (None, None) if pred is None else (pred.tta_prob("test"), pred.tta_prob("validation"))
    if pred is not None and test_tta is not None and validation_tta is not None:
        a.tta = scores_from_predictions(pred.test_y_true, test_tta, classes, resamples=resamples, seed=seed)
        a.tta_validation = scores_from_predictions(pred.validation_y_true, validation_tta, classes, resamples=0)
        a.tta_y_pred = np.asarray(test_tta).argmax(axis=1)
        a.tta_method = a.tta_method or "tta"
    elif best.tta is not None:
        a.tta, a.tta_validation = scores_from_record(best.tta.test, classes), scores_from_record(best.tta.validation, classes)
    names = list(dict.fromkeys([*best.cross, *(pred.cross_names if pred is not None else [])]))
    for name in names:
        record_classes = list(best.cross[name].per_class) if name in best.cross else classes
        set_classes = cross_classes(run, name, record_classes)
        saved = pred.cross(name) if pred is not None else None
        if saved is not None:
            a.cross[name] = scores_from_predictions(saved[0], saved[1], set_classes, resamples=resamples, seed=seed)
            with_tta = pred.cross(name, tta=True) if pred is not None else None
            if with_tta is not None:
                a.cross_tta[name] = scores_from_predictions(with_tta[0], with_tta[1], set_classes, resamples=resamples, seed=seed)
        elif name in best.cross:
            a.cross[name] = scores_from_record(best.cross[name], set_classes)
            if best.tta is not None and name in best.tta.cross:
                a.cross_tta[name] = scores_from_record(best.tta.cross[name], set_classes)


def _calibrate(a: RunAnalysis, pred: Predictions, classes: Sequence[str], resamples: int, seed: int) -> None:
    """Temperature scaling refitted on the saved validation probabilities (the trial's own fit, recomputed)."""
    from ferbench.results.calibration import apply_temperature, fit_temperature

    a.temperature = fit_temperature(pred.validation_y_true, pred.validation_y_prob)
    a.calibrated = scores_from_predictions(pred.test_y_true, apply_temperature(pred.test_y_prob, a.temperature), classes,
                                           resamples=resamples, seed=seed)
    a.calibrated_validation = scores_from_predictions(pred.validation_y_true, apply_temperature(pred.validation_y_prob, a.temperature),
                                                      classes, resamples=0)


def soft_scores(pred: Predictions, temperature: float | None) -> dict[str, dict[str, float | None]]:
    """Per split with FER+ votes saved: NLL and ECE against the majority labels and against the vote
    distributions (``soft_nll``, ``soft_ece``), and the latter after temperature scaling where fitted."""
    from ferbench.results.calibration import apply_temperature
    from ferbench.results.metrics import cross_entropy, ece, soft_ece, soft_nll

    out: dict[str, dict[str, float | None]] = {}
    for split in ("validation", "test"):
        votes = pred.votes(split)
        if votes is None:
            continue
        y, p = pred.y_true(split), pred.y_prob(split)
        row = {"nll": cross_entropy(y, p), "soft_nll": soft_nll(votes, p), "ece": ece(y, p), "soft_ece": soft_ece(votes, p)}
        if temperature is not None:
            q = apply_temperature(p, temperature)
            row.update(soft_nll_calibrated=soft_nll(votes, q), soft_ece_calibrated=soft_ece(votes, q))
        out[split] = row
    return out


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
        a = RunAnalysis(run, best, test, validation, pred.test_y_true, pred.y_pred("test"), notes=_disagreements(run, best, test))
        _extras(a, run, best, pred, resamples, seed)
        if best.calibration is not None:
            _calibrate(a, pred, classes, resamples, seed)
        a.soft = soft_scores(pred, a.temperature)
        return a
    assert best.test is not None and best.validation is not None  # a complete record has metrics (schema)
    where = "" if run.folders else " (read from its study: saved predictions are only in the run folders)"
    note = (f"{run.label}: trial {best.number} has no {PREDICTIONS_FILE}{where}; metrics are the record's, "
            "without confidence intervals or paired tests")
    a = RunAnalysis(run, best, scores_from_record(best.test, classes), scores_from_record(best.validation, classes), notes=[note])
    _extras(a, run, best, None, resamples, seed)
    return a


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
        if a.fold is not None and b.fold is not None and same_experiment(a.run, b.run):
            continue  # folds of one experiment: their spread is the point (mean ± sd), not a pairwise test
        if a.run.fingerprint != b.run.fingerprint:
            notes.append(f"{a.run.label} and {b.run.label} were scored on different data (fingerprints differ); no paired test")
            continue
        if a.y_true.shape != b.y_true.shape or not np.array_equal(a.y_true, b.y_true):
            notes.append(f"{a.run.label} and {b.run.label} share a fingerprint but their test labels differ; no paired test")
            continue
        raw.append((a, b, mcnemar_exact(a.y_true, a.y_pred, b.y_pred)))
    adjusted = holm([t.p_value for _, _, t in raw])
    return [PairTest(a, b, t, p) for (a, b, t), p in zip(raw, adjusted)], notes
