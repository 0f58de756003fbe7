"""``ferbench verify``: re-train recorded trials and compare their results with the records.

A trial is re-trained from what its run folder holds: the resolved spec, the run's
seed (data splits, synthetic data), the trial's seed and parameters. Before any
training the folder is checked for what a faithful re-run needs, and verification
stops with :class:`CannotVerify` (exit status 2) when

* the record is incomplete (no run.json, spec, record, seed, parameters or metrics;
  a spec that no longer hashes to the run's ``spec_hash``),
* the data changed (the loader's fingerprint differs from run.json's),
* the environment differs (package versions, or the CPU model, usable CPUs, oneDNN
  switches or GPUs) and no tolerance was given: bit-identical results are only
  expected in the same environment,
* the run was not deterministic (``runtime.deterministic: false``) and no tolerance
  was given.

Otherwise the re-run's state, epochs, history, objective, metrics and cost are
compared with the record: exactly, or within ``tolerance`` for real numbers
(``|a - b| <= tolerance * max(1, |a|, |b|)``; counts are always compared exactly).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferbench.errors import FerbenchError, UserInputError
from ferbench.results.paths import RunPaths
from ferbench.results.records import RunRecord, TrialRecord

if TYPE_CHECKING:
    from ferbench.run.session import RunSession
    from ferbench.spec.types import Spec

#: Environment keys whose difference makes bit-identical results unlikely, with labels.
VERSION_KEYS = {"python": "Python", "tensorflow": "TensorFlow", "keras": "Keras", "optuna": "Optuna",
                "numpy": "NumPy", "scikit_learn": "scikit-learn"}
MACHINE_KEYS = {"cpu": "CPU", "cpu_count": "usable CPUs", "numerics_vars": "oneDNN variables", "gpus": "GPUs"}

#: Record fields a re-run must reproduce (the rest — timings, timestamps, host — may differ).
COMPARED = ("state", "epochs", "best_epoch", "objective", "history", "metrics", "cost")


class CannotVerify(UserInputError):
    """The run folder cannot be verified; ``reason`` is one of record, data, environment, nondeterministic."""

    exit_code = 2

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class Difference:
    """One value the re-run did not reproduce."""

    trial: int
    field: str  # dotted path, e.g. metrics.test.accuracy or history.val_loss[2]
    recorded: Any
    rerun: Any


@dataclass
class TrialCheck:
    trial: int
    compared: int  # values compared
    differences: list[Difference]
    newer: list[str] = field(default_factory=list)  # values the re-run measures and the record predates: not compared


@dataclass
class Verification:
    """The outcome of verifying one run folder."""

    folder: Path
    run_id: str
    tolerance: float | None  # None: exact
    trials: list[TrialCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(not t.differences for t in self.trials)

    @property
    def differences(self) -> list[Difference]:
        return [d for t in self.trials for d in t.differences]


# --- comparing ----------------------------------------------------------------------------


def _leaves(value: object, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k in sorted(value):
            yield from _leaves(value[k], f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def _same(a: object, b: object, tolerance: float | None) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return bool(a == b)
    if isinstance(a, int) and isinstance(b, int):
        return a == b  # counts, epochs, sizes: exact whatever the tolerance
    if tolerance is None:
        return float(a) == float(b)
    if not (math.isfinite(a) and math.isfinite(b)):
        return a == b
    return bool(abs(a - b) <= tolerance * max(1.0, abs(a), abs(b)))


def compare_records(recorded: Mapping[str, Any], rerun: Mapping[str, Any], *, tolerance: float | None = None,
                    trial: int | None = None) -> TrialCheck:
    """Compare the reproducible fields of two trial records (see :data:`COMPARED`).

    Results format 2 grows by optional keys: a value the re-run measures that the record
    predates (a metric added since it was written) is listed in ``newer``, not compared; a
    value the record holds and the re-run lacks is a difference.
    """
    number = int(recorded.get("trial", 0)) if trial is None else trial
    left = dict(_leaves({k: recorded.get(k) for k in COMPARED}, ""))
    right = dict(_leaves({k: rerun.get(k) for k in COMPARED}, ""))
    newer = sorted((key for key in right if key not in left), key=_natural)
    keys = sorted((set(left) | set(right)) - set(newer), key=_natural)
    diffs = [Difference(number, key, left.get(key), right.get(key))
             for key in keys if key not in left or key not in right or not _same(left[key], right[key], tolerance)]
    return TrialCheck(number, len(keys), diffs, newer)


def _natural(key: str) -> tuple[Any, ...]:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key))


def environment_differences(recorded: Mapping[str, Any], here: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """``(versions, machine)``: what differs between two environment blocks, as readable items.

    Only keys present in both are compared (older records lack some). Python is
    compared on major.minor.
    """
    def show(keys: Mapping[str, str]) -> list[str]:
        out = []
        for key, label in keys.items():
            if key not in recorded or key not in here:
                continue
            a, b = recorded[key], here[key]
            if key == "python":
                a, b = _minor(a), _minor(b)
            if a != b:
                out.append(f"{label} {_fmt_env(a)} (recorded) vs {_fmt_env(b)} (here)")
        return out

    return show(VERSION_KEYS), show(MACHINE_KEYS)


def _minor(version: object) -> object:
    return ".".join(str(version).split(".")[:2]) if version else version


def _fmt_env(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in sorted(value.items())) + "}" if value else "none set"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]" if value else "none"
    return str(value)


# --- reading the folder -------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """What a run folder (or the folders of one run, one per host) holds for verification."""

    session: RunSession
    info: RunRecord
    records: dict[int, TrialRecord]
    folders: tuple[Path, ...] = ()

    @property
    def paths(self) -> RunPaths:
        return self.session.paths

    @property
    def spec(self) -> Spec:
        return self.session.spec

    def where(self, number: int) -> str:
        """Where trial ``number``'s record is (or would be)."""
        if len(self.folders) <= 1:
            return str(self.paths.record(number))
        return f"trial {number}'s record (in none of {' + '.join(map(str, self.folders))})"


def read_recorded(folder: str | Path | Sequence[str | Path]) -> Recorded:
    """run.json, the resolved spec and the trial records; :class:`CannotVerify` when incomplete.

    Several folders of one run id (one per host) are read as one run: their
    records pooled, run.json reconciled; folders of different runs, or two
    different records of one trial, cannot be verified.
    """
    from ferbench.results.read import read_part
    from ferbench.results.runs import conflicts, merged_info, same_run
    from ferbench.run.session import RunSession

    folders = [Path(folder)] if isinstance(folder, (str, Path)) else [Path(f) for f in folder]
    for f in folders:
        paths = RunPaths(f)
        if not paths.root.is_dir():
            raise CannotVerify("record", f"{f}: no such run folder")
        for needed in (paths.run_json, paths.spec):
            if not needed.is_file():
                raise CannotVerify("record", f"record incomplete: {needed} is missing")
    try:
        parts = [read_part(f) for f in folders]
        same_run(parts)
    except FerbenchError as exc:
        raise CannotVerify("record", f"record incomplete: {exc}") from None
    try:
        session = RunSession.from_folder(folders[0], share_data=False)  # the data is what is checked
    except FerbenchError as exc:
        raise CannotVerify("record", f"record inconsistent: {exc}") from None
    unreadable = [text for p in parts for text in p.problems] + conflicts(parts)
    if unreadable:
        raise CannotVerify("record", f"record incomplete: {unreadable[0]}")
    records: dict[int, TrialRecord] = {}
    for p in parts:
        for r in p.records:
            records.setdefault(r.trial, r)
    return Recorded(session, merged_info(parts), records, tuple(folders))


def select_trials(rec: Recorded, trials: Sequence[int] | str | None) -> list[int]:
    """The trials to verify: the given numbers, ``"all"`` (every complete or pruned one), or the best."""
    if trials == "all":
        chosen = [n for n, r in sorted(rec.records.items()) if r.state in ("complete", "pruned")]
        if not chosen:
            raise CannotVerify("record", f"record incomplete: {rec.paths.root} has no complete or pruned trial")
        return chosen
    if trials:
        return [int(n) for n in trials]
    best = rec.info.best_trial
    if best is None:
        raise CannotVerify("record", f"record incomplete: {rec.paths.run_json} names no best trial; name the trial (trials=[N]; --trial N on the command line)")
    return [int(best)]


def check_record(rec: Recorded, number: int) -> TrialRecord:
    """The record of trial ``number``, if it holds what a re-run needs."""
    record = rec.records.get(number)
    where = rec.where(number)
    if record is None:
        raise CannotVerify("record", f"record incomplete: {where} is missing")
    if record.state not in ("complete", "pruned"):
        raise CannotVerify("record", f"record incomplete: trial {number} {record.state} "
                                     f"({record.error or 'no error recorded'}); only complete or pruned trials have metrics to compare")
    if not record.has_metrics:
        raise CannotVerify("record", f"record incomplete: {where} has no metrics")
    return record


def check_environment(rec: Recorded, records: Sequence[TrialRecord], here: Mapping[str, Any],
                      tolerance: float | None) -> list[str]:
    """Refuse an exact comparison across environments; return notes for a tolerant one."""
    notes: list[str] = []
    versions: list[str] = []
    machine: list[str] = []
    for record in records:  # a trial's own environment when it has one (workers on several hosts)
        v, m = environment_differences(record.environment or rec.info.environment, here)
        versions += [x for x in v if x not in versions]
        machine += [x for x in m if x not in machine]
    if versions:
        text = "package versions differ: " + "; ".join(versions)
        if tolerance is None:
            raise CannotVerify("environment", f"{text}. Bit-identical results need the same versions: give a tolerance X "
                                              "(tolerance=X; --tolerance X on the command line) "
                                              "to compare within X, or refresh the recorded results with these versions")
        notes.append(text)
    if machine:
        text = "machine differs: " + "; ".join(machine)
        if tolerance is None:
            raise CannotVerify("environment", f"{text}. Bit-identical results need the same CPU model, usable CPUs, "
                                              "oneDNN variables and GPUs: give a tolerance X "
                                              "(tolerance=X; --tolerance X on the command line) to compare within X")
        notes.append(text)
    return notes


# --- re-training --------------------------------------------------------------------------


def _replay(record: TrialRecord) -> Callable[[int, float], bool]:
    """The pruner's decisions of the original trial: a pruned trial stops at its last epoch."""
    stop_at = record.epochs if record.state == "pruned" else None
    return lambda epoch, value: stop_at is not None and epoch >= stop_at


def retrain(rec: Recorded, record: TrialRecord) -> TrialRecord:
    """Train trial ``record`` again; its new record."""
    from ferbench.run.train.trial import release, run_trial

    result, model = run_trial(rec.session.trial_setup(), number=record.trial, params=dict(record.params),
                              seed=record.seed, report=_replay(record))
    release(model)
    return result.record


def verify_run(folder: str | Path | Sequence[str | Path], *, trials: Sequence[int] | str | None = None,
               tolerance: float | None = None, say: Callable[[str], None] = lambda text: None) -> Verification:
    """Verify a run folder, or the folders of one run (one per host): checks first (see the module docstring),
    then re-train and compare."""
    from ferbench.results.environment import environment
    from ferbench.run.frameworks import quiet_libraries, select_devices

    if tolerance is not None and not (tolerance >= 0 and math.isfinite(tolerance)):
        raise FerbenchError(f"tolerance must be a number >= 0 (--tolerance on the command line); got {tolerance}")
    rec = read_recorded(folder)
    numbers = select_trials(rec, trials)
    records = [check_record(rec, n) for n in numbers]
    spec = rec.spec
    if not spec.runtime.deterministic and tolerance is None:
        raise CannotVerify("nondeterministic", "the run was not deterministic (runtime.deterministic: false), so a re-run "
                                               "is not expected to be bit-identical: give a tolerance X "
                                               "(tolerance=X; --tolerance X on the command line) to compare within X")
    quiet_libraries()
    select_devices(spec.runtime)
    notes = check_environment(rec, records, environment(), tolerance)
    say(f"checking the data of {rec.paths.root}")
    fingerprint = rec.session.dataset_info.fingerprint
    recorded_fp = rec.info.dataset.fingerprint
    if fingerprint != recorded_fp:
        raise CannotVerify("data", f"data changed: {rec.info.dataset.source} has fingerprint "
                                   f"{fingerprint[:12]}, the run was trained on {recorded_fp[:12]}")
    result = Verification(rec.paths.root, rec.info.run_id, tolerance, notes=notes)
    for record in records:
        say(f"re-training trial {record.trial} of {rec.paths.root} ({record.epochs} epoch(s))")
        rerun = retrain(rec, record)
        result.trials.append(compare_records(record.to_dict(), rerun.to_dict(), tolerance=tolerance, trial=record.trial))
    newer = sorted({key for t in result.trials for key in t.newer}, key=_natural)
    if newer:
        result.notes.append(f"{len(newer)} value(s) measured now that the records predate, not compared: {', '.join(newer[:6])}"
                            + (" …" if len(newer) > 6 else ""))
    return result
