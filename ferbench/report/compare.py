"""The comparison across runs and baselines (thesis Tables 5.8/5.9, and more).

One section per benchmark and class count: every run's best trial next to the
baselines of the same dataset and number of classes, with 95% CIs, cost, how each
number was obtained (input, pretraining, extra data, ensemble, test-time
augmentation), Δ to human level and to the baselines the specs select, then the
paired McNemar tests. A baseline measured on another test set than the runs is
marked, and so is every Δ between numbers on different test sets: the table never
puts two test sets side by side silently. The folds of a k-fold experiment are shown
one by one and as their mean ± standard deviation; test-time augmentation is shown
beside the plain numbers, with an exact McNemar test of what it changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ferbench.report.analysis import RunAnalysis
from ferbench.report.baselines import COLOR_TEXT, Baseline
from ferbench.report.groups import FoldGroup, Group, canonical_test_set, group_title
from ferbench.report.model import Column, Marked, MeanSD, Section, Table, raw
from ferbench.report.stats import ALPHA, Scores, mcnemar_exact
from ferbench.results.records import RunRecord

#: Marks a number measured on another test set than the runs it is set against.
OTHER_TEST_SET = "†"


def _delta_key(b: Baseline) -> str:
    return f"delta_{b.id}"


def _run_input(a: RunAnalysis) -> str:
    ds = a.run.info.dataset
    return f"{ds.image_size} {COLOR_TEXT.get(ds.color, ds.color)}"


def _run_pretrained(a: RunAnalysis) -> str:
    """``no`` for ferbench's models trained from scratch; the weights a spec names otherwise."""
    weights = (a.run.spec.get("model") or {}).get("weights")
    return "no" if weights in (None, False, "none") else str(weights)


def _compare_columns(g: Group) -> list[Column]:
    """The comparison's columns: what each number is, and one Δ per selected baseline."""
    return [
        Column("model", "Model"),
        Column("source", "Source"),
        Column("test_set", "Test set"),
        Column("accuracy", "Accuracy % [95% CI]", "pct"),
        Column("precision", "Precision (macro)", "frac"),
        Column("recall", "Recall (macro)", "frac"),
        Column("f1", "F1 (macro) [95% CI]", "frac"),
        Column("params", "Params", "count"),
        Column("macs", "MACs", "count"),
        Column("input", "Input"),
        Column("pretrained", "Pretrained"),
        Column("extra_data", "Extra data", "bool"),
        Column("ensemble", "Ensemble"),
        Column("tta", "TTA"),
        Column("train_time", "Train time", "duration"),
    ] + [Column(_delta_key(b), f"Δ {b.name} (pp)", "delta") for b in g.selected]


def _baseline_row(b: Baseline, elsewhere: bool) -> dict[str, Any]:
    """A baseline as published (human-level results leave the training columns empty); its Δs are added by the caller."""
    return {
        "id": b.id, "kind": b.kind, "model": b.name, "source": b.citation.short(),
        "test_set": f"{b.split} {OTHER_TEST_SET}" if elsewhere else b.split, "other_test_set": elsewhere,
        "accuracy": b.accuracy, "precision": b.precision_macro, "recall": b.recall_macro, "f1": b.f1_macro,
        "params": b.params, "macs": b.macs, "input": b.input_text, "pretrained": None if b.is_human else b.pretrained_text,
        "extra_data": None if b.is_human else b.extra_data, "ensemble": None if b.is_human else b.ensemble_text,
        "tta": None if b.is_human else b.tta_text, "train_time": None,
    }


def _closing_notes(g: Group, other: dict[str, list[RunAnalysis]]) -> list[str]:
    """The notes under the table: other test sets, what the columns mean, k-fold rows, where baselines come from."""
    notes: list[str] = []
    marked = [b for b in g.baselines if other[b.id]]
    if marked:
        sets = sorted({str(g.run_test_set(a)) for b in marked for a in other[b.id]})
        notes.append(f"{OTHER_TEST_SET} Measured on another test set than the runs here ({', '.join(sets)}): "
                     f"{', '.join(f'{b.name} on {b.split}' for b in marked)}. A Δ marked {OTHER_TEST_SET} sets numbers on "
                     "different images side by side (also between two baselines); read it as context, not as a difference.")
    notes.append("Input, Pretrained, Extra data, Ensemble and TTA as each source states them (– where it does not); "
                 "ferbench's runs are single networks trained from scratch on the benchmark's training split.")
    if g.folds:
        notes.append("k-fold rows: each fold's run, then the mean ± sample standard deviation over the folds "
                     "(the folds split train + validation; every fold is tested on the same test split).")
    if g.baselines:
        notes.append("Baseline numbers are as published (not re-computed); Δ is in percentage points of accuracy; train time is the best trial's.")
    else:
        notes.append(f"No baseline in the registry for {group_title(g.dataset, g.num_classes)}; add one with --baselines FILE. "
                     "Train time is the best trial's.")
    return notes


def compare_table(g: Group) -> Table:
    """Runs and baselines side by side, with how each number was obtained."""
    t = Table(f"{g.key}-table", f"Comparison on {group_title(g.dataset, g.num_classes)}", _compare_columns(g), stack={"model": "source"})
    runs = [a for a in g.runs if a.test is not None and a.best is not None]
    other = {b.id: [a for a in runs if g.differs(b, a)] for b in g.baselines}

    def deltas(row_id: str, acc: float, test_set: frozenset[str] | None) -> dict[str, Any]:
        """Δ to each selected baseline, marked where the two numbers come from different test sets."""
        out: dict[str, Any] = {}
        for b in g.selected:
            if b.id == row_id:
                out[_delta_key(b)] = None
            elif test_set is None or test_set != canonical_test_set(b.split, g.dataset):
                out[_delta_key(b)] = Marked(acc - b.accuracy, OTHER_TEST_SET)
            else:
                out[_delta_key(b)] = acc - b.accuracy
        return out

    for b in g.baselines:
        row = _baseline_row(b, bool(other[b.id]))
        row.update(deltas(b.id, b.accuracy, canonical_test_set(b.split, g.dataset)))
        t.rows.append(row)
        if b.accuracy_pm is not None:
            t.notes.append(f"{b.name}: {100 * b.accuracy:.0f} ± {100 * b.accuracy_pm:.0f}% as stated by {b.citation.short()}.")
    in_folds = {id(a) for fg in g.folds for a in fg.runs}
    for a in runs:
        assert a.test is not None and a.best is not None
        t.rows.append(_run_row(g, a, a.test, None, deltas))
        if a.tta is not None and id(a) not in in_folds:
            t.rows.append(_run_row(g, a, a.tta, a.tta_method, deltas))
    for fg in g.folds:
        t.rows += _fold_rows(g, fg, deltas)
    t.notes += _closing_notes(g, other)
    for a in runs:
        h = a.health
        if h is not None and not h.healthy:
            t.notes.append(f"(DEGENERATE) {a.run.label}: {h.message()}; its row is a broken model's, not a result.")
    return t


def degenerate_mark(a: RunAnalysis) -> str:
    """`` (DEGENERATE)`` for a run whose best trial is a broken model (``ferbench.results.health``); else empty."""
    h = a.health
    return "" if h is None or h.healthy else " (DEGENERATE)"


def unfinished_mark(info: RunRecord) -> str:
    """`` (interrupted, 3/50 trials)`` for a run that is not complete, ranked beside finished ones; empty for a complete run."""
    if info.status == "complete":
        return ""
    t = info.trials
    return f" ({info.status}, {t.complete + t.failed + t.pruned}/{t.target} trials)"


def _run_row(g: Group, a: RunAnalysis, s: Scores, tta: str | None,
             deltas: Callable[[str, float, frozenset[str] | None], dict[str, Any]]) -> dict[str, Any]:
    assert a.best is not None
    split = g.run_test_set(a)
    row: dict[str, Any] = {
        "id": a.run.run_id + (f"+{tta}" if tta else ""), "kind": "run",
        "model": a.run.label + (f" + TTA ({tta})" if tta else "") + unfinished_mark(a.run.info) + degenerate_mark(a),
        "source": f"run {a.run.run_id}", "test_set": f"{split if isinstance(split, str) else 'test'} (n={s.n})",
        "accuracy": s.accuracy, "precision": s.precision_macro, "recall": s.recall_macro, "f1": s.f1_macro,
        "params": a.best.cost.params, "macs": a.best.cost.macs, "input": _run_input(a), "pretrained": _run_pretrained(a),
        "extra_data": False, "ensemble": "single", "tta": tta or "none", "train_time": a.best.timings.train_s,
    }
    row.update(deltas(row["id"], s.accuracy.value, canonical_test_set(split, g.dataset)))
    return row


def _over_folds(fg: FoldGroup, get: Callable[[RunAnalysis], Scores | None], pick: Callable[[Scores], float]) -> MeanSD | None:
    """Mean ± sd of ``pick`` of the scores ``get`` gives for each fold."""
    def one(a: RunAnalysis) -> float | None:
        s = get(a)
        return None if s is None else pick(s)

    return fg.mean(one)


def _fold_rows(g: Group, fg: FoldGroup, deltas: Callable[[str, float, frozenset[str] | None], dict[str, Any]]) -> list[dict[str, Any]]:
    """The mean ± sd rows of one k-fold experiment: plain, and with test-time augmentation where the folds have it."""
    out = []
    first = fg.runs[0]
    split = g.run_test_set(first)
    n = first.test.n if first.test is not None else None
    variants: list[tuple[str | None, Callable[[RunAnalysis], Scores | None]]] = [(None, lambda a: a.test)]
    if fg.has_tta:
        variants.append((first.tta_method or "tta", lambda a: a.tta))
    for tta, get in variants:
        acc = _over_folds(fg, get, lambda s: s.accuracy.value)
        if acc is None:
            continue
        row: dict[str, Any] = {
            "id": f"{fg.label}:folds" + (f"+{tta}" if tta else ""), "kind": "folds",
            "model": f"{fg.label} ({acc.n} of {fg.folds} folds: mean ± sd)" + (f" + TTA ({tta})" if tta else ""),
            "source": "k-fold", "test_set": f"{split if isinstance(split, str) else 'test'} (n={n})",
            "accuracy": acc, "precision": _over_folds(fg, get, lambda s: s.precision_macro),
            "recall": _over_folds(fg, get, lambda s: s.recall_macro), "f1": _over_folds(fg, get, lambda s: s.f1_macro.value),
            "params": None, "macs": None, "input": _run_input(first), "pretrained": _run_pretrained(first), "extra_data": False,
            "ensemble": "single", "tta": tta or "none",
            "train_time": fg.mean(lambda a: None if a.best is None else a.best.timings.train_s),
        }
        row.update(deltas(row["id"], acc.mean, canonical_test_set(split, g.dataset)))
        out.append(row)
    return out


def folds_table(g: Group) -> Table | None:
    """One row per k-fold experiment: its folds' accuracies and their mean ± sd (with test-time augmentation too)."""
    if not g.folds:
        return None
    cols = [Column("experiment", "Experiment"), Column("folds", "Folds", "int"), Column("per_fold", "Accuracy % per fold"),
            Column("accuracy", "Accuracy % (mean ± sd)", "pct"), Column("f1", "F1 (macro, mean ± sd)", "frac")]
    if any(fg.has_tta for fg in g.folds):
        cols += [Column("tta_accuracy", "Accuracy % with TTA (mean ± sd)", "pct")]
    t = Table(f"{g.key}-folds", f"Cross-validation on {group_title(g.dataset, g.num_classes)}", cols)
    for fg in g.folds:
        ordered = sorted(fg.runs, key=lambda a: a.fold or (0, 0))
        t.rows.append({
            "experiment": fg.label, "folds": fg.folds,
            "per_fold": ", ".join(f"{(a.fold or (0, 0))[0]}: {100 * a.test.accuracy.value:.2f}" for a in ordered if a.test is not None),
            "accuracy": fg.mean(lambda a: None if a.test is None else a.test.accuracy.value),
            "f1": fg.mean(lambda a: None if a.test is None else a.test.f1_macro.value),
            "tta_accuracy": fg.mean(lambda a: None if a.tta is None else a.tta.accuracy.value),
        })
    t.notes.append("Sample standard deviation (n - 1) over the folds. The folds are stratified and seeded (scikit-learn's "
                   "StratifiedKFold over train + validation); the test split is the same for every fold.")
    return t


def tta_table(g: Group) -> Table | None:
    """What test-time augmentation changed for each run: accuracy without and with it, and an exact McNemar test."""
    runs = [a for a in g.runs if a.tta is not None and a.test is not None]
    if not runs:
        return None
    t = Table(f"{g.key}-tta", f"Test-time augmentation on {group_title(g.dataset, g.num_classes)}", [
        Column("run", "Run"), Column("method", "TTA"), Column("n", "n", "int"), Column("plain", "Accuracy %", "pct"),
        Column("augmented", "With TTA %", "pct"), Column("gain", "Gain (pp)", "delta"), Column("plain_only", "Only plain right", "int"),
        Column("tta_only", "Only TTA right", "int"), Column("p", "p (McNemar)", "pvalue"),
    ])
    for a in runs:
        assert a.test is not None and a.tta is not None
        row: dict[str, Any] = {"run": a.run.label, "method": a.tta_method, "n": a.test.n, "plain": a.test.accuracy.value,
                               "augmented": a.tta.accuracy.value, "gain": a.tta.accuracy.value - a.test.accuracy.value}
        if a.y_true is not None and a.y_pred is not None and a.tta_y_pred is not None:
            m = mcnemar_exact(a.y_true, a.y_pred, a.tta_y_pred)
            row.update(plain_only=m.a_only, tta_only=m.b_only, p=m.p_value)
        t.rows.append(row)
    for fg in g.folds:
        gain = fg.mean(lambda a: None if a.tta is None or a.test is None else a.tta.accuracy.value - a.test.accuracy.value)
        if gain is not None:
            t.rows.append({"run": f"{fg.label} ({gain.n} folds: mean ± sd)", "method": fg.runs[0].tta_method,
                           "plain": fg.mean(lambda a: None if a.test is None else a.test.accuracy.value),
                           "augmented": fg.mean(lambda a: None if a.tta is None else a.tta.accuracy.value), "gain": gain})
    t.notes.append("The same best trial scored without and with test-time augmentation (chosen on the plain validation loss); "
                   "two-sided exact McNemar test on the test images where exactly one of the two is right.")
    return t


def pairs_table(g: Group) -> Table | None:
    """Exact McNemar tests between runs scored on the same test samples."""
    if not g.pairs:
        return None
    t = Table(
        f"{g.key}-pairs",
        f"Paired tests on {group_title(g.dataset, g.num_classes)} (exact McNemar)",
        [
            Column("a", "Run A"), Column("b", "Run B"), Column("n", "n", "int"),
            Column("acc_a", "Acc A %", "pct"), Column("acc_b", "Acc B %", "pct"), Column("delta", "Δ A−B (pp)", "delta"),
            Column("a_only", "Only A right", "int"), Column("b_only", "Only B right", "int"),
            Column("p", "p", "pvalue"), Column("p_holm", "p (Holm)", "pvalue"), Column("significant", f"Significant (α={ALPHA})", "bool"),
        ],
    )
    for p in g.pairs:
        assert p.a.test is not None and p.b.test is not None
        acc_a, acc_b = p.a.test.accuracy.value, p.b.test.accuracy.value
        t.rows.append({
            "a": p.a.run.label + unfinished_mark(p.a.run.info) + degenerate_mark(p.a),
            "b": p.b.run.label + unfinished_mark(p.b.run.info) + degenerate_mark(p.b),
            "n": p.test.n, "acc_a": acc_a, "acc_b": acc_b, "delta": acc_a - acc_b,
            "a_only": p.test.a_only, "b_only": p.test.b_only, "p": p.test.p_value, "p_holm": p.p_holm, "significant": p.p_holm < ALPHA,
        })
    t.notes.append("Two-sided exact binomial McNemar test on the samples where exactly one run is right; "
                   "significance uses the Holm-adjusted p over the pairs in this table.")
    if any(degenerate_mark(a) for p in g.pairs for a in (p.a, p.b)):
        t.notes.append("(DEGENERATE): the run's best trial is a broken model (see the comparison above); a test against it "
                       "compares with a broken model, not a result.")
    return t


def compare_section(g: Group) -> Section:
    from ferbench.report.seeds import seed_groups, seed_tests_table, seeds_table

    sec = Section(g.key, f"Comparison: {group_title(g.dataset, g.num_classes)}", notes=list(g.notes))
    sec.tables.append(compare_table(g))
    title, seeds = group_title(g.dataset, g.num_classes), seed_groups(g.runs)
    for extra in (folds_table(g), seeds_table(g.key, title, seeds), seed_tests_table(g.key, title, seeds), tta_table(g), pairs_table(g)):
        if extra is not None:
            sec.tables.append(extra)
    return sec


def group_data(g: Group) -> dict[str, Any]:
    """Machine-readable comparison for the JSON report."""
    from ferbench.report.seeds import seed_groups, seeds_data

    t = compare_table(g)
    folds = folds_table(g)
    return {
        "dataset": g.dataset,
        "num_classes": g.num_classes,
        "selected_baselines": [b.id for b in g.selected],
        "rows": [{k: raw(v) for k, v in r.items()} for r in t.rows],
        "folds": [] if folds is None else [{k: raw(v) for k, v in r.items()} for r in folds.rows],
        "pairs": [
            {"a": p.a.run.run_id, "b": p.b.run.run_id, "n": p.test.n, "a_only": p.test.a_only, "b_only": p.test.b_only,
             "p_value": p.test.p_value, "p_holm": p.p_holm, "significant": p.p_holm < ALPHA}
            for p in g.pairs
        ],
        "notes": g.notes,
        "seeds": seeds_data(seed_groups(g.runs)),
    }
