"""Per-run tables: summary, test metrics (thesis Tables 5.2/5.4/5.6), best hyperparameters
(Tables 5.3/5.5/5.7), per-class scores and the confusion matrix."""

from __future__ import annotations

from typing import Any

from ferbench.report.analysis import RunAnalysis
from ferbench.report.labels import METRIC_LABELS, hyper_label
from ferbench.report.model import Column, Section, Table, slug
from ferbench.report.stats import Estimate, Scores
from ferbench.results.health import health_mark, trial_health


def run_key(a: RunAnalysis) -> str:
    """A stable id for a run's section and figures."""
    return f"run-{slug(a.run.label)}-{a.run.run_id}"


def summary_table(a: RunAnalysis) -> Table:
    """Identity, data, search progress and cost of one run."""
    run, info, best = a.run, a.run.info, a.best
    ds, tr = info.dataset, info.trials
    test_split = ds.splits.get("test")
    rows: list[tuple[str, Any, str]] = [
        ("Spec", run.spec_name, "text"),
        ("Run id", run.run_id, "text"),
        ("Status", run.status, "text"),
        ("Dataset", f"{run.dataset} ({ds.color}, {ds.image_size}x{ds.image_size})", "text"),
        ("Classes", ", ".join(run.classes), "text"),
        ("Test set", f"{test_split if isinstance(test_split, str) else 'test'} (n={ds.sizes['test']})", "text"),
        ("Fingerprint", ds.fingerprint[:16], "text"),
        ("Trials", f"{tr.complete} complete, {tr.failed} failed, {tr.pruned} pruned of {tr.target}"
                   + (f"; {tr.infeasible} infeasible (over search.constraints, not trained)" if tr.infeasible else ""), "text"),
        ("Best trial", None if best is None else best.number, "int"),
        (f"Best {info.objective.metric} ({info.objective.direction})", None if best is None else best.objective, "num"),
        ("Parameters", None if best is None else best.cost.params, "count"),
        ("MACs", None if best is None else best.cost.macs, "count"),
        ("Best trial training time", None if best is None else best.timings.train_s, "duration"),
        ("Study wall time", info.wall_time_s, "duration"),
    ]
    if info.pareto is not None:
        goals = ", ".join(f"{o.direction} {o.metric}" for o in info.objectives)
        rows.insert(9, ("Objectives", goals, "text"))
        rows.insert(10, ("Pareto set", ", ".join(f"trial {n}" for n in info.pareto) or "empty", "text"))
    for k, v in info.matrix_cell.items():
        rows.insert(2, (f"Matrix {k}", str(v), "text"))
    if a.fold is not None:
        rows.insert(6, ("Fold", f"{a.fold[0]} of {a.fold[1]} (validation; the other folds train)", "text"))
    if a.tta_method:
        rows.insert(6, ("Test-time augmentation", a.tta_method, "text"))
    t = Table(f"{run_key(a)}-summary", "Run", [Column("item", "Item"), Column("value", "Value")])
    from ferbench.report.model import fmt

    # Values of mixed kinds in one column: format here, keep the raw value for JSON/CSV.
    t.rows = [{"item": k, "value": fmt(v, kind), "value:raw": v} for k, v, kind in rows]
    return t


def metrics_table(a: RunAnalysis) -> Table:
    """Accuracy, loss, precision, recall and F1 (macro) on test, with 95% CIs, and on validation."""
    assert a.test is not None and a.validation is not None
    cols = [Column("metric", "Metric"), Column("test", "Test", "frac"), Column("validation", "Validation", "frac")]
    if a.tta is not None:
        cols[2:2] = [Column("test_tta", f"Test with TTA ({a.tta_method})", "frac")]
        cols += [Column("validation_tta", f"Validation with TTA ({a.tta_method})", "frac")]
    t = Table(f"{run_key(a)}-metrics", f"Test metrics of the best trial (n={a.test.n})", cols)

    s, v = a.test, a.validation
    for key, label in METRIC_LABELS:
        val = getattr(v, key)
        row: dict[str, Any] = {"metric": label, "test": getattr(s, key), "validation": getattr(val, "value", val)}
        if a.tta is not None and a.tta_validation is not None:
            tv = getattr(a.tta_validation, key)
            row.update(test_tta=getattr(a.tta, key), validation_tta=getattr(tv, "value", tv))
        t.rows.append(row)
    if a.tta is not None:
        t.notes.append("With TTA: the same model, its probabilities averaged over the augmented views of each image "
                       "(the best trial is still chosen on the plain validation numbers).")
    if s.from_predictions:
        t.notes.append("Test accuracy, macro F1 and balanced accuracy carry 95% percentile-bootstrap confidence intervals; "
                       "loss is the negative log-likelihood (unweighted cross-entropy) of the saved probabilities; "
                       "ECE is top-label over 15 equal-width confidence bins.")
    else:
        t.notes.append("No saved predictions: these are the numbers in the trial record, without confidence intervals.")
    return t


def hyperparameters_table(a: RunAnalysis) -> Table:
    """The best trial's searched values first, then the fixed effective ones."""
    assert a.best is not None
    t = Table(f"{run_key(a)}-hyperparameters", f"Best hyperparameters (trial {a.best.number})",
              [Column("name", "Hyperparameter"), Column("value", "Value", "num"), Column("searched", "Searched", "bool")])
    searched = dict(a.best.params)
    for k, v in searched.items():
        t.rows.append({"name": hyper_label(k), "value": v, "searched": True})
    for k, v in a.best.hyperparameters.items():
        if k not in searched:
            t.rows.append({"name": hyper_label(k), "value": v, "searched": False})
    return t


def per_class_table(a: RunAnalysis) -> Table:
    """Precision, recall, F1 and support of each class on test."""
    assert a.test is not None
    cols = [Column("class", "Class"), Column("precision", "Precision", "frac"), Column("recall", "Recall", "frac"), Column("f1", "F1", "frac"),
            Column("support", "Support", "int")]
    t = Table(f"{run_key(a)}-per-class", "Per-class scores (test)", cols)
    for c, sc in a.test.per_class.items():
        t.rows.append({"class": c, "precision": sc.precision, "recall": sc.recall, "f1": sc.f1, "support": sc.support})
    return t


def confusion_table(a: RunAnalysis) -> Table:
    """Raw confusion matrix on test: rows are true classes, columns predicted."""
    assert a.test is not None
    classes = a.run.classes
    cols = [Column("true", "True \\ predicted")] + [Column(f"pred_{c}", c, "int") for c in classes]
    t = Table(f"{run_key(a)}-confusion", "Confusion matrix (test, rows true, columns predicted)", cols)
    for i, c in enumerate(classes):
        row: dict[str, Any] = {"true": c}
        row.update({f"pred_{p}": int(a.test.confusion[i, j]) for j, p in enumerate(classes)})
        t.rows.append(row)
    return t


def trials_table(a: RunAnalysis) -> Table:
    """Every finished trial of the run, whichever host ran it: state, objective, scores, size and searched values."""
    run = a.run
    obj = run.info.objective
    hosts = [str((t.environment or {}).get("host") or "") for t in run.trials]
    searched = list(dict.fromkeys(k for t in run.trials for k in t.params))
    cols = [Column("trial", "Trial", "int"), Column("state", "State"), Column("objective", f"{obj.metric}", "num"),
            Column("val_accuracy", "Val accuracy", "frac"), Column("test_accuracy", "Test accuracy", "frac"),
            Column("test_f1_macro", "Test F1 (macro)", "frac"), Column("params", "Params", "count"),
            Column("train_s", "Train time", "duration")]
    if any(t.latency is not None for t in run.trials):
        cols.insert(7, Column("latency_ms", "Latency b=1 (ms)", "num"))
    if any(hosts):
        cols.append(Column("host", "Host"))
    cols += [Column(f"param_{k}", hyper_label(k), "num") for k in searched]
    cols.insert(2, Column("health", "Health"))
    t = Table(f"{run_key(a)}-trials", f"Trials ({len(run.trials)} finished)", cols)
    for trial, host in zip(run.trials, hosts, strict=True):
        row: dict[str, Any] = {
            "trial": trial.number, "state": trial.state, "objective": trial.objective,
            "val_accuracy": None if trial.validation is None else trial.validation.accuracy,
            "test_accuracy": None if trial.test is None else trial.test.accuracy,
            "test_f1_macro": None if trial.test is None else trial.test.f1_macro,
            "params": trial.cost.params, "train_s": trial.timings.train_s, "host": host or None,
            "latency_ms": trial.latency_ms, "health": health_mark(trial_health(trial, run.classes)),
        }
        row.update({f"param_{k}": trial.params.get(k) for k in searched})
        t.rows.append(row)
    t.notes.append(f"Scores are the trial records' (validation picks the best trial, by {obj.metric}, {obj.direction}).")
    return t


def health_notes(a: RunAnalysis) -> list[str]:
    """A warning when the run's best trial is a degenerate model: its numbers are not a result."""
    h, best = a.health, a.best
    if h is None or best is None or h.healthy:
        return []
    return [f"WARNING: best trial {best.number} is a {h.message()}. Its scores are those of a broken model, not a result."]


def run_section(a: RunAnalysis) -> Section:
    """Every per-run table (figures are added by the plotting step)."""
    sec = Section(run_key(a), f"{a.run.label} ({a.run.run_id})", notes=list(a.run.warnings) + list(a.notes) + health_notes(a))
    sec.tables.append(summary_table(a))
    if a.test is not None:
        from ferbench.report.cross import cross_table

        sec.tables += [metrics_table(a), hyperparameters_table(a), per_class_table(a), confusion_table(a)]
        from ferbench.report.evaluation import evaluation_tables

        extra = cross_table(a)
        if extra is not None:
            sec.tables.append(extra)
        sec.tables += evaluation_tables(a, run_key(a))
    if a.run.info.pareto is not None:
        from ferbench.report.frontier import pareto_table

        sec.tables.append(pareto_table(a, f"{run_key(a)}-pareto"))
    if a.run.trials:
        sec.tables.append(trials_table(a))
    return sec


def run_data(a: RunAnalysis) -> dict[str, Any]:
    """Machine-readable numbers of one run for the JSON report (full precision)."""

    out: dict[str, Any] = {
        "run_id": a.run.run_id,
        "label": a.run.label,
        "spec_name": a.run.spec_name,
        "path": None if a.run.path is None else str(a.run.path),
        "folders": [str(f) for f in a.run.folders],
        "source": a.run.source,
        "dataset": a.run.dataset,
        "num_classes": a.run.num_classes,
        "classes": a.run.classes,
        "fingerprint": a.run.fingerprint,
        "status": a.run.status,
        "best_trial": None if a.best is None else a.best.number,
    }
    if a.best is not None:
        out.update(params=a.best.params, hyperparameters=a.best.hyperparameters,
                   cost={"params": a.best.cost.params, "macs": a.best.cost.macs}, train_s=a.best.timings.train_s, objective=a.best.objective)
    out["trials"] = [{"trial": t.number, "state": t.state, "objective": t.objective, "params": dict(t.params),
                      "host": (t.environment or {}).get("host"), "cost": {"params": t.cost.params, "macs": t.cost.macs},
                      "train_s": t.timings.train_s,
                      "metrics": None if t.validation is None or t.test is None else
                      {"validation": t.validation.to_dict(), "test": t.test.to_dict()}} for t in a.run.trials]
    for split in ("test", "validation"):
        s = getattr(a, split)
        if s is not None:
            out[split] = _scores_data(s)
    if a.fold is not None:
        out["fold"] = {"fold": a.fold[0], "folds": a.fold[1]}
    if a.run.info.pareto is not None:
        out["objectives"] = [{"metric": o.metric, "direction": o.direction} for o in a.run.info.objectives]
        out["pareto"] = [{"trial": t.trial, "values": list(t.values or ()), "params": t.cost.params, "macs": t.cost.macs,
                          "latency_ms": t.latency_ms, "test_accuracy": None if t.test is None else t.test.accuracy,
                          "test_f1_macro": None if t.test is None else t.test.f1_macro,
                          "exports": [e.format for e in a.run.exports(t)]} for t in a.run.pareto]
    if a.tta is not None:
        out["tta"] = {"method": a.tta_method, "test": _scores_data(a.tta),
                      **({"validation": _scores_data(a.tta_validation)} if a.tta_validation is not None else {}),
                      "cross": {k: _scores_data(v) for k, v in a.cross_tta.items()}}
    if a.cross:
        out["cross"] = {k: _scores_data(v) for k, v in a.cross.items()}
    from ferbench.report.evaluation import evaluation_data

    out.update(evaluation_data(a))
    return out


def _scores_data(s: Scores) -> dict[str, Any]:
    from ferbench.report.model import raw

    return {
        "n": s.n,
        "from_predictions": s.from_predictions,
        "accuracy": raw(s.accuracy) if isinstance(s.accuracy, Estimate) and s.accuracy.has_ci else s.accuracy.value,
        "loss": s.loss,
        "precision_macro": s.precision_macro,
        "recall_macro": s.recall_macro,
        "f1_macro": raw(s.f1_macro) if s.f1_macro.has_ci else s.f1_macro.value,
        "precision_weighted": s.precision_weighted,
        "recall_weighted": s.recall_weighted,
        "f1_weighted": s.f1_weighted,
        "per_class": {c: vars(v) for c, v in s.per_class.items()},
        "confusion": s.confusion.tolist(),
        "balanced_accuracy": raw(s.balanced_accuracy) if s.balanced_accuracy.has_ci else raw(s.balanced_accuracy.value),
        "kappa": s.kappa,
        "brier": s.brier,
        "ece": s.ece,
        **({"reliability": {"edges": list(s.reliability.edges), "count": list(s.reliability.count),
                            "confidence": [raw(v) for v in s.reliability.confidence],
                            "accuracy": [raw(v) for v in s.reliability.accuracy]}}
           if s.reliability is not None else {}),
    }
