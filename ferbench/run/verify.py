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

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from ferbench.errors import FerbenchError
from ferbench.run.records import RunPaths, read_json

#: Environment keys whose difference makes bit-identical results unlikely, with labels.
VERSION_KEYS = {"python": "Python", "tensorflow": "TensorFlow", "keras": "Keras", "optuna": "Optuna",
                "numpy": "NumPy", "scikit_learn": "scikit-learn"}
MACHINE_KEYS = {"cpu": "CPU", "cpu_count": "usable CPUs", "numerics_vars": "oneDNN variables", "gpus": "GPUs"}

#: Record fields a re-run must reproduce (the rest — timings, timestamps, host — may differ).
COMPARED = ("state", "epochs", "best_epoch", "objective", "history", "metrics", "cost")


class CannotVerify(FerbenchError):
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


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k in sorted(value):
            yield from _leaves(value[k], f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def _same(a: Any, b: Any, tolerance: float | None) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return a == b
    if isinstance(a, int) and isinstance(b, int):
        return a == b  # counts, epochs, sizes: exact whatever the tolerance
    if tolerance is None:
        return float(a) == float(b)
    if not (math.isfinite(a) and math.isfinite(b)):
        return a == b
    return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))


def compare_records(recorded: Mapping[str, Any], rerun: Mapping[str, Any], *, tolerance: float | None = None,
                    trial: int | None = None) -> TrialCheck:
    """Compare the reproducible fields of two trial records (see :data:`COMPARED`)."""
    number = int(recorded.get("trial", 0)) if trial is None else trial
    left = dict(_leaves({k: recorded.get(k) for k in COMPARED}, ""))
    right = dict(_leaves({k: rerun.get(k) for k in COMPARED}, ""))
    diffs = [Difference(number, key, left.get(key), right.get(key))
             for key in sorted(set(left) | set(right), key=_natural)
             if key not in left or key not in right or not _same(left[key], right[key], tolerance)]
    return TrialCheck(number, len(set(left) | set(right)), diffs)


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


def _minor(version: Any) -> Any:
    return ".".join(str(version).split(".")[:2]) if version else version


def _fmt_env(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in sorted(value.items())) + "}" if value else "none set"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]" if value else "none"
    return str(value)


# --- reading the folder -------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """What a run folder holds for verification."""

    paths: RunPaths
    info: dict[str, Any]
    spec: Any  # ferbench.spec.types.Spec
    records: dict[int, dict[str, Any]]


def read_recorded(folder: Path) -> Recorded:
    """run.json, the resolved spec and the trial records; :class:`CannotVerify` when incomplete."""
    from ferbench.plan import spec_hash
    from ferbench.spec import read_resolved

    paths = RunPaths(Path(folder))
    if not paths.root.is_dir():
        raise CannotVerify("record", f"{folder}: no such run folder")
    for needed in (paths.run_json, paths.spec):
        if not needed.is_file():
            raise CannotVerify("record", f"record incomplete: {needed} is missing")
    try:
        info = read_json(paths.run_json)
        spec = read_resolved(paths.spec)
    except FerbenchError as exc:
        raise CannotVerify("record", f"record incomplete: {exc}") from None
    for key in ("run_id", "spec_hash", "seed", "dataset", "environment"):
        if key not in info:
            raise CannotVerify("record", f"record incomplete: {paths.run_json} has no {key!r}")
    if not (info.get("dataset") or {}).get("fingerprint"):
        raise CannotVerify("record", f"record incomplete: {paths.run_json} has no data fingerprint")
    import yaml

    if spec_hash(yaml.safe_load(paths.spec.read_text(encoding="utf-8")) or {}) != info["spec_hash"]:
        raise CannotVerify("record", f"record inconsistent: {paths.spec} does not hash to run.json's spec_hash "
                                     f"{str(info['spec_hash'])[:12]} (was it edited?)")
    records: dict[int, dict[str, Any]] = {}
    for p in sorted(paths.trials.glob("*/record.json")):
        try:
            rec = read_json(p)
        except FerbenchError as exc:
            raise CannotVerify("record", f"record incomplete: {exc}") from None
        records[int(rec.get("trial", int(p.parent.name)))] = rec
    return Recorded(paths, info, spec, records)


def select_trials(rec: Recorded, trials: Sequence[int] | str | None) -> list[int]:
    """The trials to verify: the given numbers, ``"all"`` (every complete or pruned one), or the best."""
    if trials == "all":
        chosen = [n for n, r in sorted(rec.records.items()) if r.get("state") in ("complete", "pruned")]
        if not chosen:
            raise CannotVerify("record", f"record incomplete: {rec.paths.root} has no complete or pruned trial")
        return chosen
    if trials:
        return [int(n) for n in trials]  # type: ignore[union-attr]
    best = rec.info.get("best_trial")
    if best is None:
        raise CannotVerify("record", f"record incomplete: {rec.paths.run_json} names no best trial; pass --trial N")
    return [int(best)]


def check_record(rec: Recorded, number: int) -> dict[str, Any]:
    """The record of trial ``number``, if it holds what a re-run needs."""
    record = rec.records.get(number)
    where = rec.paths.trial(number) / "record.json"
    if record is None:
        raise CannotVerify("record", f"record incomplete: {where} is missing")
    for key in ("params", "seed", "state", "epochs", "history"):
        if key not in record:
            raise CannotVerify("record", f"record incomplete: {where} has no {key!r}")
    if record["state"] not in ("complete", "pruned"):
        raise CannotVerify("record", f"record incomplete: trial {number} {record['state']} "
                                     f"({record.get('error') or 'no error recorded'}); only complete or pruned trials have metrics to compare")
    if "metrics" not in record:
        raise CannotVerify("record", f"record incomplete: {where} has no metrics")
    return record


def check_environment(rec: Recorded, records: Sequence[Mapping[str, Any]], here: Mapping[str, Any],
                      tolerance: float | None) -> list[str]:
    """Refuse an exact comparison across environments; return notes for a tolerant one."""
    notes: list[str] = []
    versions: list[str] = []
    machine: list[str] = []
    for record in records:  # a trial's own environment when it has one (workers on several hosts)
        v, m = environment_differences(record.get("environment") or rec.info["environment"], here)
        versions += [x for x in v if x not in versions]
        machine += [x for x in m if x not in machine]
    if versions:
        text = "package versions differ: " + "; ".join(versions)
        if tolerance is None:
            raise CannotVerify("environment", f"{text}. Bit-identical results need the same versions: pass --tolerance X "
                                              "to compare within X, or refresh the recorded results with these versions")
        notes.append(text)
    if machine:
        text = "machine differs: " + "; ".join(machine)
        if tolerance is None:
            raise CannotVerify("environment", f"{text}. Bit-identical results need the same CPU model, usable CPUs, "
                                              "oneDNN variables and GPUs: pass --tolerance X to compare within X")
        notes.append(text)
    return notes


# --- re-training --------------------------------------------------------------------------


def load_data(spec: Any, seed: int) -> tuple[Any, str]:
    """The run's data (:class:`~ferbench.run.trial.RunData`) and its fingerprint, loaded afresh."""
    import numpy as np

    from ferbench.data import class_weights, load_dataset
    from ferbench.run.trial import RunData

    loaded = load_dataset(spec.dataset, seed=seed, progress=False)
    cw = class_weights(loaded.splits["train"].y, len(loaded.classes), spec.loss)
    data = RunData(
        classes=tuple(loaded.classes),
        x={s: loaded.splits[s].x for s in ("train", "validation", "test")},
        y={s: np.asarray(loaded.splits[s].y, dtype=np.int64) for s in ("train", "validation", "test")},
        class_weight=None if cw is None else np.asarray(cw, dtype=np.float64),
    )
    return data, str(loaded.fingerprint)


def _replay(record: Mapping[str, Any]) -> Callable[[int, float], bool]:
    """The pruner's decisions of the original trial: a pruned trial stops at its last epoch."""
    stop_at = int(record["epochs"]) if record["state"] == "pruned" else None
    return lambda epoch, value: stop_at is not None and epoch >= stop_at


def retrain(setup: Any, run_id: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Train trial ``record`` again; its new record as written to disk (JSON round trip)."""
    from ferbench.run.records import record_dict
    from ferbench.run.trial import release, run_trial

    number = int(record["trial"])
    outcome, model = run_trial(setup, number=number, params=dict(record["params"]), seed=int(record["seed"]),
                               report=_replay(record))
    release(model)
    return json.loads(json.dumps(record_dict(run_id, outcome)))


def verify_run(folder: str | Path, *, trials: Sequence[int] | str | None = None, tolerance: float | None = None,
               say: Callable[[str], None] = lambda text: None) -> Verification:
    """Verify a run folder: checks first (see the module docstring), then re-train and compare."""
    from ferbench.run.env import environment

    if tolerance is not None and not (tolerance >= 0 and math.isfinite(tolerance)):
        raise FerbenchError(f"--tolerance must be a number >= 0; got {tolerance}")
    rec = read_recorded(Path(folder))
    numbers = select_trials(rec, trials)
    records = [check_record(rec, n) for n in numbers]
    spec = rec.spec
    if not spec.runtime.deterministic and tolerance is None:
        raise CannotVerify("nondeterministic", "the run was not deterministic (runtime.deterministic: false), so a re-run "
                                               "is not expected to be bit-identical: pass --tolerance X to compare within X")
    from ferbench.run.runner import quiet_libraries, select_devices

    quiet_libraries()
    select_devices(spec.runtime)
    notes = check_environment(rec, records, environment(), tolerance)
    say(f"checking the data of {rec.paths.root}")
    data, fingerprint = load_data(spec, int(rec.info["seed"]))
    recorded_fp = str(rec.info["dataset"]["fingerprint"])
    if fingerprint != recorded_fp:
        raise CannotVerify("data", f"data changed: {rec.info['dataset'].get('source', 'the dataset')} has fingerprint "
                                   f"{fingerprint[:12]}, the run was trained on {recorded_fp[:12]}")
    from ferbench.run.progress import Reporter
    from ferbench.run.runner import _setup

    setup = _setup(spec, data, Reporter())
    result = Verification(rec.paths.root, str(rec.info["run_id"]), tolerance, notes=notes)
    for record in records:
        say(f"re-training trial {record['trial']} of {rec.paths.root} ({record['epochs']} epoch(s))")
        rerun = retrain(setup, str(rec.info["run_id"]), record)
        result.trials.append(compare_records(record, rerun, tolerance=tolerance, trial=int(record["trial"])))
    return result
