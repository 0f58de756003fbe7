"""A run as readers see it: one folder, the folders of several hosts taken together, or its study.

Workers on hosts that share no filesystem each write the records of their own
trials into a folder of their own, all under the same run id. A reader given
several folders of one run id treats them as one run (:func:`merge_parts`):
the records are pooled, each trial's files are read from the folder that holds
them, and run.json is reconciled. Two folders that disagree — another spec,
other data, two different records of one trial — are refused, never blended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferbench.errors import ResultsError
from ferbench.results.exports import ExportRecord, trial_exports
from ferbench.results.paths import PREDICTIONS_FILE, RECORD_FILE, RUN_FILE
from ferbench.results.read import Part, find_run_dirs, load_predictions, read_part
from ferbench.results.records import TRIAL_STATES, Predictions, RunRecord, TrialRecord

#: Where to go when a folder holds only part of a run.
WAYS_FORWARD = ("give the folders of the other hosts too (`ferbench report FOLDER FOLDER...`), merge them with "
                "`ferbench collect FOLDER... --into DIR`, or report from the study: `ferbench report --storage URL --spec SPEC`")


@dataclass(frozen=True)
class Run:
    """One run: run.json (reconciled when read from several folders), its trial records and resolved spec."""

    info: RunRecord
    trials: tuple[TrialRecord, ...]
    spec: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    #: Trial number -> the folder holding its files (predictions.npz, history.csv); empty for a run read from its study.
    homes: Mapping[int, Path] = field(default_factory=dict)
    #: The folders it was read from: one, one per host, or none (rebuilt from its study).
    folders: tuple[Path, ...] = ()
    #: Where it was read from when no folder: the study and its storage (password hidden).
    source: str | None = None

    @property
    def path(self) -> Path | None:
        """The (first) folder of the run; ``None`` for a run rebuilt from its study."""
        return self.folders[0] if self.folders else None

    @property
    def origin(self) -> str:
        """Where the run was read, for messages: a folder, ``A + B``, or the study."""
        if self.folders:
            return " + ".join(str(f) for f in self.folders)
        return self.source or f"study {self.run_id}"

    @property
    def run_id(self) -> str:
        return self.info.run_id

    @property
    def spec_name(self) -> str:
        return self.info.spec_name

    @property
    def label(self) -> str:
        """Short, unique-enough name: the spec name plus the matrix cell and, for k-fold, the fold."""
        parts = [_cell_value(k, v) for k, v in self.info.matrix_cell.items()]
        fold = self.info.dataset.fold
        if fold:
            parts.append(f"fold={fold['fold']}/{fold['folds']}")
        return f"{self.spec_name} [" + ", ".join(parts) + "]" if parts else self.spec_name

    @property
    def status(self) -> str:
        return self.info.status

    @property
    def classes(self) -> list[str]:
        return list(self.info.dataset.classes)

    @property
    def num_classes(self) -> int:
        return len(self.info.dataset.classes)

    @property
    def dataset(self) -> str:
        """The benchmark name baselines match on: the dataset kind, or ``ferplus`` for FER2013 with FER+ labels."""
        kind = self.info.dataset.kind
        labels = (self.spec.get("dataset") or {}).get("labels")
        return "ferplus" if kind == "fer2013" and labels else kind

    @property
    def fingerprint(self) -> str:
        return self.info.dataset.fingerprint

    @property
    def direction(self) -> str:
        return self.info.objective.direction

    @property
    def complete_trials(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.state == "complete"]

    @property
    def best(self) -> TrialRecord | None:
        """The best complete trial as run.json names it (chosen on validation, never on test)."""
        bt = self.info.best_trial
        return next((t for t in self.trials if t.trial == bt), None)

    @property
    def compare_ids(self) -> list[str]:
        """Baseline ids the run's spec asks to compare with (``report.compare``)."""
        return list((self.spec.get("report") or {}).get("compare") or [])

    @property
    def search_space(self) -> Mapping[str, Any]:
        return (self.spec.get("search") or {}).get("space") or {}

    def predictions_path(self, trial: TrialRecord) -> Path | None:
        """Where the trial's ``predictions.npz`` is (or would be); ``None`` when no folder holds the trial."""
        home = self.homes.get(trial.trial)
        return None if home is None else home / "trials" / f"{trial.trial:04d}" / PREDICTIONS_FILE

    def has_predictions(self, trial: TrialRecord) -> bool:
        path = self.predictions_path(trial)
        return path is not None and path.is_file()

    @property
    def pareto(self) -> list[TrialRecord]:
        """A multi-objective run's Pareto set (run.json's ``pareto``), by trial number; ``[]`` for one objective."""
        numbers = set(self.info.pareto or ())
        return [t for t in self.trials if t.trial in numbers]

    @property
    def front(self) -> list[TrialRecord]:
        """What the run offers as its best: its Pareto set with several objectives, its best trial with one."""
        if self.info.pareto is not None:
            return self.pareto
        return [] if self.best is None else [self.best]

    def exports(self, trial: TrialRecord) -> list[ExportRecord]:
        """The export records beside a trial (``ferbench export``); ``[]`` where none, or no folder holds the trial."""
        home = self.homes.get(trial.trial)
        return [] if home is None else trial_exports(home, trial.trial)

    def predictions(self, trial: TrialRecord) -> Predictions:
        """Load a trial's ``predictions.npz``; :class:`ResultsError` when missing or malformed."""
        path = self.predictions_path(trial)
        if path is None:
            raise ResultsError(f"{self.origin}: trial {trial.trial} has no folder here, so no {PREDICTIONS_FILE}")
        return load_predictions(path, self.num_classes)


# --------------------------------------------------------------------------- merging


def _numbers(numbers: Iterable[int]) -> str:
    shown = sorted(numbers)
    text = ", ".join(map(str, shown[:12]))
    return text + (f" and {len(shown) - 12} more" if len(shown) > 12 else "")


def holding(part: Part) -> str:
    """``trials 0, 2 from host-a``: what one folder of a run holds."""
    hosts = ", ".join(part.info.writers) or "an unnamed host"
    held = f"trials {_numbers(part.numbers)}" if part.records else "no trial"
    return f"{held} from {hosts}"


def describe(part: Part) -> str:
    """``FOLDER (trials 0, 2 from host-a)``."""
    return f"{part.folder} ({holding(part)})"


def same_run(parts: Sequence[Part]) -> None:
    """Refuse folders that are not parts of one run (another run id, spec or data), in one line."""
    first = parts[0]
    for other in parts[1:]:
        a, b = first.info, other.info
        if b.run_id != a.run_id:
            raise ResultsError(f"{other.folder} is run {b.run_id} ({b.spec_name}) but {first.folder} is run {a.run_id} "
                               f"({a.spec_name}): only folders of one run are merged")
        if b.spec_hash != a.spec_hash:
            raise ResultsError(f"{other.folder} and {first.folder} both say run {a.run_id} but were made from different specs "
                               f"(spec hash {b.spec_hash[:12]} vs {a.spec_hash[:12]}): they are not parts of one run")
        if b.dataset.fingerprint != a.dataset.fingerprint:
            raise ResultsError(f"{other.folder} and {first.folder} (run {a.run_id}) were trained on different data "
                               f"(fingerprint {b.dataset.fingerprint[:12]} vs {a.dataset.fingerprint[:12]}): they are not parts of one run")


def conflicts(parts: Sequence[Part]) -> list[str]:
    """One line per trial that two folders record differently (records are never rewritten, so never blended)."""
    seen: dict[int, tuple[TrialRecord, Path]] = {}
    out: list[str] = []
    for part in parts:
        for rec in part.records:
            if rec.trial not in seen:
                seen[rec.trial] = (rec, part.folder)
            elif seen[rec.trial][0].to_dict() != rec.to_dict():
                where = seen[rec.trial][1]
                hint = ""
                if "://" not in part.info.storage:  # a study inside each folder: each folder is a run of its own
                    hint = f" (each folder has a study of its own, {part.info.storage}: two separate runs of one spec)"
                out.append(f"trial {rec.trial}: {where / 'trials' / f'{rec.trial:04d}' / RECORD_FILE} and "
                           f"{part.folder / 'trials' / f'{rec.trial:04d}' / RECORD_FILE} differ: these folders are not parts "
                           f"of one run{hint}")
    return out


def records_best(records: Iterable[TrialRecord], direction: str) -> TrialRecord | None:
    """The best complete, feasible record by the run's own objective (ties: the earlier trial), or ``None``."""
    scored = [r for r in records if r.state == "complete" and r.feasible and r.objective is not None]
    if not scored:
        return None
    sign = 1.0 if direction == "minimize" else -1.0
    return min(scored, key=lambda r: (sign * float(r.objective or 0.0), r.trial))


def best_disagreement(info: RunRecord, records: Iterable[TrialRecord]) -> str | None:
    """Why run.json's ``best_trial`` is not the best of the records by the run's objective, or ``None`` (one objective only)."""
    if info.pareto is not None or info.best_trial is None:
        return None
    records = list(records)
    named = next((r for r in records if r.trial == info.best_trial), None)
    best = records_best(records, info.objective.direction)
    if named is None or best is None or best.trial == named.trial or best.objective == named.objective:
        return None
    return (f"run.json names trial {info.best_trial} the best ({info.objective.metric} {named.objective:.4g}), but trial "
            f"{best.trial} has the better {info.objective.metric} ({best.objective:.4g}, {info.objective.direction})")


def merged_info(parts: Sequence[Part]) -> RunRecord:
    """run.json of the whole run: the furthest part's status, counts and best trial; the earliest start;
    every host and device; the trials held by all the folders together.

    Hosts work on one study at the same time, so the run's wall time is the longest of theirs.
    """
    def progress(p: Part) -> tuple[int, str]:
        t = p.info.trials
        return (t.complete + t.failed + t.pruned, p.info.updated)

    latest = max(parts, key=progress)
    if len(parts) == 1:
        return latest.info.but(hosts=latest.info.writers)
    held = sorted({n for p in parts for n in p.numbers})
    return latest.info.but(
        created=min(p.info.created for p in parts), wall_time_s=max(p.info.wall_time_s for p in parts),
        hosts=tuple(dict.fromkeys(h for p in parts for h in p.info.writers)),
        devices=tuple(dict.fromkeys(d for p in parts for d in p.info.devices)), holds=tuple(held),
        jobs=tuple(dict.fromkeys(j for p in parts for j in p.info.jobs)),
        environment=min(parts, key=lambda p: p.info.created).info.environment,
    )


def _partial(parts: Sequence[Part], info: RunRecord, records: Mapping[int, TrialRecord]) -> str | None:
    """What the folders hold of the run, when they are whole but hold only some of its trials (other hosts have the rest)."""
    finished = info.trials.complete + info.trials.failed + info.trials.pruned
    if len(records) >= finished or any(p.info.holds is None for p in parts):
        return None  # all there, or an older run.json that cannot tell
    where = " + ".join(str(p.folder) for p in parts)
    held = holding(parts[0]) if len(parts) == 1 else "; ".join(describe(p) for p in parts)
    return (f"{where}: {'holds' if len(parts) == 1 else 'hold'} {len(records)} of the run's {finished} finished trials "
            f"({held}); the other {finished - len(records)} are in the folders of other hosts: {WAYS_FORWARD}")


def _count_problems(parts: Sequence[Part], info: RunRecord, records: Mapping[int, TrialRecord]) -> list[str]:
    where = " + ".join(str(p.folder) for p in parts)
    complete = info.status == "complete"
    lost = [(p, [n for n in p.info.holds or () if n not in p.numbers]) for p in parts] if complete else []
    problems = [f"{p.folder}: incomplete results folder: {RUN_FILE} says it holds trial(s) {_numbers(ns)} but their "
                "records are not there (was it copied in part?)" for p, ns in lost if ns]
    short = [(state, info.trials.of(state), sum(r.state == state for r in records.values())) for state in TRIAL_STATES]
    short = [(state, want, have) for state, want, have in short if have < want and complete]
    bt = info.best_trial
    partial = None if problems else _partial(parts, info, records)
    if partial is not None and (short or (bt is not None and bt not in records)):
        return [partial]  # every folder is whole: the missing trials ran on hosts whose folders were not given
    for state, want, have in short:
        problems.append(f"{where}: incomplete results folder: {RUN_FILE} counts {want} {state} trial(s) but {have} record(s) are on disk")
    if bt is not None:
        best = records.get(bt)
        if best is None:
            problems.append(f"{where}: incomplete results folder: best trial {bt} has no record (trials/{bt:04d}/{RECORD_FILE})")
        elif best.state != "complete":
            problems.append(f"{where}: best trial {bt} is {best.state}, not complete")
    return problems


def merge_parts(parts: Sequence[Part]) -> Run:
    """The run that ``parts`` (folders of one run id) make together; one :class:`ResultsError` lists every problem."""
    if not parts:
        raise ValueError("no folder to merge")
    same_run(parts)
    problems = [text for p in parts for text in p.problems] + conflicts(parts)
    records: dict[int, TrialRecord] = {}
    homes: dict[int, Path] = {}
    for p in parts:
        for rec in p.records:
            records.setdefault(rec.trial, rec)
            homes.setdefault(rec.trial, p.folder)
    info = merged_info(parts)
    complete = info.status == "complete"
    warnings: list[str] = []
    if len(parts) > 1:
        warnings.append(f"run {info.run_id} read from {len(parts)} folders: " + "; ".join(describe(p) for p in parts))
    for p in parts:
        for n in p.unfinished:
            if n in records:
                continue  # trained again elsewhere
            text = f"{p.folder / 'trials' / f'{n:04d}' / RECORD_FILE}: missing"
            if complete:
                problems.append(f"incomplete results folder: {text}")
            else:
                warnings.append(f"{text} (trial not finished; skipped)")
    for n, rec in sorted(records.items()):
        pred = homes[n] / "trials" / f"{n:04d}" / PREDICTIONS_FILE
        if rec.state == "complete" and not pred.is_file():
            warnings.append(f"{pred}: missing; metrics come from the record and carry no confidence interval")
    if not problems:
        problems = _count_problems(parts, info, records)
    partial = None if problems else _partial(parts, info, records)
    if partial is not None:  # a run still going, read from some of its hosts' folders
        warnings.append(partial)
    if problems:
        raise ResultsError("\n".join(problems))
    spec = next((p.spec for p in parts if p.spec), {})
    return Run(info=info, trials=tuple(records[n] for n in sorted(records)), spec=spec, warnings=tuple(warnings),
               homes=homes, folders=tuple(p.folder for p in parts))


# --------------------------------------------------------------------------- loading


def refusal(parts: Sequence[Part]) -> str | None:
    """What :func:`merge_parts` (``report``'s reader) refuses in ``parts``, except that other hosts' folders are missing.

    ``collect`` writes only what ``report`` reads: it refuses what this returns. A run
    whose other trials are in folders not given yet is no refusal: collecting those
    folders later completes it.
    """
    try:
        merge_parts(parts)
    except ResultsError as exc:
        records: dict[int, TrialRecord] = {}
        for p in parts:
            for rec in p.records:
                records.setdefault(rec.trial, rec)
        if str(exc) == _partial(parts, merged_info(parts), records):
            return None
        return str(exc)
    return None


def load_run(run_dir: str | Path) -> Run:
    """Load one run folder, validating ``run.json`` and every trial record; all problems in one error."""
    return merge_parts([read_part(run_dir)])


def read_parts(folders: Sequence[str | Path]) -> list[Part]:
    """Read run folders that must be parts of one run (else :class:`ResultsError`, one line)."""
    parts = [read_part(f) for f in folders]
    if parts:
        same_run(parts)
    return parts


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    """Find and load every run under ``paths``; folders of one run id (one per host) are one run.

    One :class:`ResultsError` lists every problem of every run.
    """
    groups: dict[str, list[Part]] = {}
    problems: list[str] = []
    for d in find_run_dirs(list(paths)):
        try:
            part = read_part(d)
        except ResultsError as exc:
            problems.append(str(exc))
            continue
        groups.setdefault(part.info.run_id, []).append(part)
    runs = []
    for parts in groups.values():
        try:
            runs.append(merge_parts(parts))
        except ResultsError as exc:
            problems.append(str(exc))
    if problems:
        raise ResultsError("\n".join(problems))
    return runs


def _cell_value(key: str, value: Any) -> str:
    """``class_weight=none``; a whole section (a matrix over ``model``) as its own ``key=value`` pairs."""
    if isinstance(value, Mapping):
        return ", ".join(_cell_value(k, v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        value = "[" + ",".join(str(v) for v in value) + "]"
    return f"{key.split('.')[-1]}={value}"
