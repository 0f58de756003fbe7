"""Cross-dataset evaluation: the trained-on × tested-on matrix.

Each run's best model is scored on its own test split and on the extra test sets
its spec names (``evaluate.on``); one row per run (and per k-fold experiment, as
mean ± sd), one column per test set. A test set is a column by its name; two runs
that give one name to different data (another fingerprint) are said to in a note.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from ferbench.data.kinds import DISPLAY_NAMES
from ferbench.report.analysis import RunAnalysis
from ferbench.report.groups import fold_groups
from ferbench.report.model import Column, MeanSD, Section, Table, slug
from ferbench.report.stats import Scores

#: The column of each run's own test split.
OWN = "own test split"


def _trained_on(a: RunAnalysis, *, pooled: bool = False) -> str:
    """``FER2013 Training (7 classes)``; with ``pooled``, the pool the folds of a k-fold experiment cut."""
    ds = a.run.info.dataset
    name = DISPLAY_NAMES.get(a.run.dataset, a.run.dataset)
    train = ds.splits.get("train")
    text = train if isinstance(train, str) else "train"
    if pooled:
        text = text.split("[")[0] + " (k-fold)"
    return f"{name} {text} ({len(ds.classes)} classes)"


def _names(analyses: Sequence[RunAnalysis]) -> list[str]:
    return list(dict.fromkeys(n for a in analyses for n in a.cross))


def _describe(analyses: Sequence[RunAnalysis], name: str) -> tuple[str, list[str]]:
    """The column's header and notes: what the set is (from run.json), and whether runs disagree on it."""
    infos = [(a, (a.run.info.dataset.cross or {}).get(name) or {}) for a in analyses if name in a.cross]
    prints = {i.get("fingerprint") for _, i in infos if i.get("fingerprint")}
    first = next((i for _, i in infos if i), {})
    kind = DISPLAY_NAMES.get(str(first.get("kind")), str(first.get("kind", "?")))
    relabelled = " (FER+ labels)" if first.get("labels") else ""
    notes = []
    if first:
        notes.append(f"{name}: {kind}{relabelled} {first.get('split', '?')}, {first.get('size', '?')} images; {first.get('mapping', '')}".rstrip("; "))
        overlap = max((int(i.get("in_train") or 0) for _, i in infos), default=0)
        if overlap:
            notes.append(f"{name}: up to {overlap} of its images also occur in a run's train split (exact duplicates); they flatter that run")
    if len(prints) > 1:
        notes.append(f"{name} names different data in different runs (fingerprints differ); its column mixes them")
    return f"{name}", notes


def _matrix(analyses: Sequence[RunAnalysis], names: list[str], pick: Callable[[RunAnalysis, str | None], Scores | None],
            key: str, title: str) -> Table:
    cols = [Column("run", "Run"), Column("trained_on", "Trained on"), Column("own", f"Accuracy % on its {OWN}", "pct")]
    cols += [Column(f"on_{n}", f"{n} %", "pct") for n in names]
    t = Table(key, title, cols)
    for a in analyses:
        row: dict[str, Any] = {"run": a.run.label, "trained_on": _trained_on(a), "own": _acc(pick(a, None))}
        row.update({f"on_{n}": _acc(pick(a, n)) for n in names})
        t.rows.append(row)
    for fg in fold_groups(list(analyses)):
        row = {"run": f"{fg.label} ({len(fg.runs)} of {fg.folds} folds: mean ± sd)", "trained_on": _trained_on(fg.runs[0], pooled=True),
               "own": _mean([_value(pick(a, None)) for a in fg.runs])}
        row.update({f"on_{n}": _mean([_value(pick(a, n)) for a in fg.runs]) for n in names})
        t.rows.append(row)
    return t


def _acc(s: Scores | None) -> Any:
    return None if s is None else s.accuracy


def _value(s: Scores | None) -> float | None:
    return None if s is None else s.accuracy.value


def _mean(values: list[float | None]) -> MeanSD | None:
    got = [v for v in values if v is not None]
    if not got:
        return None
    return MeanSD(statistics.fmean(got), statistics.stdev(got) if len(got) > 1 else None, len(got))


def cross_section(analyses: Sequence[RunAnalysis]) -> Section | None:
    """The trained-on × tested-on matrix of every run with extra test sets (and with test-time augmentation when runs have it)."""
    runs = [a for a in analyses if a.cross and a.test is not None]
    if not runs:
        return None
    names = _names(runs)
    sec = Section("cross-dataset", "Cross-dataset: trained on × tested on")
    sec.tables.append(_matrix(runs, names, lambda a, n: a.test if n is None else a.cross.get(n), "cross-dataset-matrix",
                              "Accuracy of each run's best model on its own test split and on the extra test sets"))
    if any(a.tta is not None for a in runs):
        sec.tables.append(_matrix(runs, names, lambda a, n: a.tta if n is None else a.cross_tta.get(n), "cross-dataset-matrix-tta",
                                  "The same with test-time augmentation"))
    for n in names:
        _, notes = _describe(runs, n)
        sec.notes += notes
    sec.tables[0].notes.append("Classes are matched by name; where one side lacks contempt, contempt faces are left out or the model's "
                               "contempt output is dropped and the rest renormalised, and each set is scored over the classes both share. "
                               "Intervals: 95% percentile bootstrap over the set's images.")
    return sec


def cross_table(a: RunAnalysis) -> Table | None:
    """One run's extra test sets: what each is, and the scores of its best model on it."""
    if not a.cross:
        return None
    has_tta = bool(a.cross_tta)
    cols = [Column("name", "Test set"), Column("what", "What"), Column("n", "n", "int"), Column("accuracy", "Accuracy % [95% CI]", "pct"),
            Column("f1", "F1 (macro) [95% CI]", "frac")]
    if has_tta:
        cols += [Column("tta_accuracy", f"With TTA ({a.tta_method}) %", "pct")]
    t = Table(f"run-{slug(a.run.label)}-{a.run.run_id}-cross", "Extra test sets (cross-dataset)", cols)
    for name, s in a.cross.items():
        info = (a.run.info.dataset.cross or {}).get(name) or {}
        kind = DISPLAY_NAMES.get(str(info.get("kind")), str(info.get("kind", "?")))
        what = f"{kind}{' (FER+ labels)' if info.get('labels') else ''} {info.get('split', '')}".strip()
        if info.get("mapping"):
            what += f"; {info['mapping']}"
        tta = a.cross_tta.get(name)
        t.rows.append({"name": name, "what": what, "n": s.n, "accuracy": s.accuracy, "f1": s.f1_macro,
                       "tta_accuracy": None if tta is None else tta.accuracy})
    return t
