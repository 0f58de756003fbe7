"""Reading results folders (``docs/results-format.md`` is the contract).

Every reader — report, verify, evaluate, a resumed run — goes through here: a
folder becomes typed records (:mod:`ferbench.results.records`) or one
:class:`ResultsError` that lists every problem found. Predictions are loaded
lazily: a report of 50 trials only needs the best trial's arrays.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferbench.errors import ResultsError
from ferbench.results.paths import RECORD_FILE, RUN_FILE, SPEC_FILE, RunPaths
from ferbench.results.records import PREDICTION_KEYS, Predictions, RunRecord, TrialRecord
from ferbench.results.schema import newer_version, record_problems, run_problems


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a results file; :class:`ResultsError` when missing, torn or from a newer ferbench."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: is a folder, not a file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: corrupt JSON ({exc})") from None
    except OSError as exc:
        raise ResultsError(f"{path}: unreadable ({exc.strerror or exc})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object")
    newer = newer_version(data)
    if newer:
        raise ResultsError(f"{path}: {newer}")
    return data


def _validated(path: Path, problems: Callable[[object], list[str]]) -> dict[str, Any]:
    data = read_json(path)
    bad = problems(data)
    if bad:
        raise ResultsError("\n".join(f"{path}: {p}" for p in bad))
    return data


def read_run_record(path: Path) -> RunRecord:
    """``run.json``, validated."""
    return RunRecord.from_dict(_validated(path, run_problems))


def read_trial_record(path: Path) -> TrialRecord:
    """One ``record.json``, validated."""
    return TrialRecord.from_dict(_validated(path, record_problems))


def _npz_reason(exc: BaseException) -> str:
    """Why an ``.npz`` did not read, in words of our own (numpy's own advice is to unpickle it: never)."""
    if isinstance(exc, zipfile.BadZipFile) or "pickle" in str(exc):
        return "not a NumPy .npz archive"
    if isinstance(exc, EOFError):
        return "truncated"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return "unreadable arrays"


def load_predictions(path: Path, num_classes: int | None = None) -> Predictions:
    """Read a ``predictions.npz`` and check its arrays agree with each other (and ``num_classes``)."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in PREDICTION_KEYS if k not in npz.files]
            if missing:
                raise ResultsError(f"{path}: missing arrays {', '.join(missing)} (expected {', '.join(PREDICTION_KEYS)})")
            arrays = {k: npz[k] for k in PREDICTION_KEYS}
            extra = {k: npz[k] for k in npz.files if k not in PREDICTION_KEYS}
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing (confidence intervals and paired tests need the saved predictions)") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ResultsError(f"{path}: corrupt ({_npz_reason(exc)}); re-run the trial or restore the file") from None
    for split in ("validation", "test"):
        y, p = arrays[f"{split}_y_true"], arrays[f"{split}_y_prob"]
        if y.ndim != 1 or p.ndim != 2 or len(y) != len(p):
            raise ResultsError(f"{path}: {split}_y_true {y.shape} and {split}_y_prob {p.shape} do not line up (want (N,) and (N, K))")
        if len(y) == 0:
            raise ResultsError(f"{path}: {split}_y_true is empty; a scored split has at least one image")
        if num_classes is not None and p.shape[1] != num_classes:
            raise ResultsError(f"{path}: {split}_y_prob has {p.shape[1]} columns but the run has {num_classes} classes")
        if y.min() < 0 or y.max() >= p.shape[1]:
            raise ResultsError(f"{path}: {split}_y_true holds labels outside 0..{p.shape[1] - 1}")
        arrays[f"{split}_y_true"] = y.astype("int64", copy=False)
        tta = extra.get(f"{split}_y_prob_tta")
        if tta is not None and tta.shape != p.shape:
            raise ResultsError(f"{path}: {split}_y_prob_tta {tta.shape} does not match {split}_y_prob {p.shape}")
        _per_sample(path, split, extra, p.shape)
    for key in [k for k in extra if k.startswith("cross_") and k.endswith("_y_true")]:
        stem = key[: -len("_y_true")]
        y, p = extra[key], extra.get(f"{stem}_y_prob")
        if p is None or y.ndim != 1 or p.ndim != 2 or len(y) != len(p) or (len(y) and (y.min() < 0 or y.max() >= p.shape[1])):
            raise ResultsError(f"{path}: {stem}_y_true and {stem}_y_prob do not line up (want (N,) labels below K and (N, K))")
        tta = extra.get(f"{stem}_y_prob_tta")
        if tta is not None and tta.shape != p.shape:
            raise ResultsError(f"{path}: {stem}_y_prob_tta {tta.shape} does not match {stem}_y_prob {p.shape}")
        extra[key] = y.astype("int64", copy=False)
    return Predictions(**arrays, extra=extra)


def _per_sample(path: Path, split: str, extra: dict[str, Any], shape: tuple[int, ...]) -> None:
    """The optional per-sample arrays of a split (names, FER+ votes, attributes) have one row per sample."""
    soft = extra.get(f"{split}_y_soft")
    if soft is not None and soft.shape != shape:
        raise ResultsError(f"{path}: {split}_y_soft {soft.shape} does not match {split}_y_prob {shape}")
    keys = [f"{split}_image"] + ([k for k in extra if k.startswith("test_attribute_")] if split == "test" else [])
    for key in keys:
        if key in extra and extra[key].shape != shape[:1]:
            raise ResultsError(f"{path}: {key} {extra[key].shape} has not one entry per sample of {split}_y_prob {shape}")


def read_resolved_spec(path: Path) -> Mapping[str, Any]:
    """The resolved spec of a run folder as plain data (``{}`` when unreadable: reports still work)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------- run folders


def find_run_dirs(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Every run folder (one holding ``run.json``) at or under ``paths``, sorted, without duplicates.

    A folder that looks like a run (``trials/`` or ``spec.resolved.yaml``) but has no
    ``run.json`` is an incomplete results folder and raises :class:`ResultsError`.
    """
    found: list[Path] = []
    incomplete: list[str] = []
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            raise ResultsError(f"{root}: no such file or folder")
        if root.is_file():
            if root.name == RUN_FILE:
                root = root.parent
            else:
                raise ResultsError(f"{root}: not a results folder (give a run folder or a folder of runs)")
        stack = [root]
        while stack:
            d = stack.pop()
            if (d / RUN_FILE).exists():
                found.append(d)
                continue  # a run's own subfolders (trials/, best/) are not runs
            if (d / "trials").is_dir() or (d / SPEC_FILE).is_file():
                incomplete.append(f"{d}: incomplete results folder: {RUN_FILE} is missing "
                                  "(the run was never started properly or the folder was copied in part)")
                continue
            try:
                children = sorted((c for c in d.iterdir() if c.is_dir() and not c.name.startswith(".")), reverse=True)
            except OSError as exc:
                raise ResultsError(f"{d}: cannot list the folder ({exc.strerror or exc})") from None
            stack.extend(children)
    if incomplete:
        raise ResultsError("\n".join(incomplete))
    shown = ", ".join(str(p) for p in paths)
    if not found:
        raise ResultsError(f"nothing to report: no {RUN_FILE} under {shown} (results folders are written by `ferbench run`)")
    unique = {d.resolve(): d for d in reversed(found)}  # the same run reached twice counts once
    return sorted(unique.values(), key=lambda d: str(d))


def read_trials(paths: RunPaths, run_id: str) -> tuple[list[TrialRecord], list[tuple[Path, str]]]:
    """Every readable trial record of a run folder, by number, and ``(folder, problem)`` for the others.

    A folder without ``record.json`` is a trial still training (or one whose
    process died): it is reported as a problem with ``missing`` in the text.
    """
    records: list[TrialRecord] = []
    problems: list[tuple[Path, str]] = []
    for tdir in paths.trial_dirs():
        rec_path = tdir / RECORD_FILE
        if not rec_path.exists():
            problems.append((tdir, f"{rec_path}: missing"))
            continue
        try:
            rec = read_trial_record(rec_path)
        except ResultsError as exc:
            problems.append((tdir, str(exc)))
            continue
        if rec.run_id != run_id:
            problems.append((tdir, f"{rec_path}: run_id {rec.run_id} does not match {RUN_FILE} ({run_id}); a trial from another run was copied here"))
        elif int(tdir.name) != rec.trial:
            problems.append((tdir, f"{rec_path}: record of trial {rec.trial} is in folder {tdir.name}"))
        else:
            records.append(rec)
    return records, problems


@dataclass(frozen=True)
class Part:
    """One folder of a run, as read: a whole run, or one host's share of it.

    Nothing here judges whether the folder is complete: that takes every folder of
    the run (:func:`ferbench.results.runs.merge_parts`).
    """

    folder: Path
    info: RunRecord
    records: tuple[TrialRecord, ...]
    #: Trial folders without record.json: trials still training, or whose process died.
    unfinished: tuple[int, ...] = ()
    #: Damaged records, records of another run, metrics that do not fit the run's classes.
    problems: tuple[str, ...] = ()
    spec: Mapping[str, Any] = field(default_factory=dict)

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(r.trial for r in self.records)


def read_part(run_dir: str | Path) -> Part:
    """Read one run folder: run.json (a problem there raises :class:`ResultsError`) and every trial record."""
    paths = RunPaths(Path(run_dir))
    if not paths.run_json.exists():
        raise ResultsError(f"incomplete results folder: {paths.run_json}: missing")
    info = read_run_record(paths.run_json)
    records, bad = read_trials(paths, info.run_id)
    unfinished: list[int] = []
    problems: list[str] = []
    for folder, text in bad:
        if text.endswith(": missing"):  # records are written whole, at the end: a trial still training has none yet
            unfinished.append(int(folder.name))
        else:
            problems.append(text)
    classes = len(info.dataset.classes)
    for rec in records:
        for split in ("validation", "test"):
            m = rec.metrics(split)
            if m is not None and len(m.confusion) != classes:
                problems.append(f"{paths.record(rec.trial)}: metrics.{split}.confusion is {len(m.confusion)}x.. "
                                f"but the run has {classes} classes")
    return Part(folder=paths.root, info=info, records=tuple(records), unfinished=tuple(unfinished),
                problems=tuple(problems), spec=read_resolved_spec(paths.spec))


def finite(x: float | None) -> float | None:
    """``x`` unless it is None or not finite (histories may hold null for a NaN loss)."""
    return x if x is not None and math.isfinite(x) else None


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB chunks (model files, exported files)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pareto_records(folder: Path, numbers: Sequence[int]) -> list[TrialRecord]:
    """The records of a run's Pareto trials that are on disk (one another host holds is left out)."""
    paths = RunPaths(folder)
    return [read_trial_record(paths.record(n)) for n in numbers if paths.record(n).exists()]


def searched_names(folder: Path) -> set[str]:
    """The names of the hyperparameters a run searched, from the resolved spec beside its records."""
    from ferbench.spec.loader import read_resolved

    return {p.name for p in read_resolved(RunPaths(folder).spec).search.space}


def check_keras_archive(path: Path) -> None:
    """Refuse a ``.keras`` file that is not a whole zip archive (truncated by a full disk, a copy cut short).

    Keras itself says "File not found" of such a file; this says what it is.
    """
    if path.suffix == ".keras" and path.is_file() and not zipfile.is_zipfile(path):
        raise ResultsError(f"{path}: corrupt (not a whole .keras archive: truncated or damaged); "
                           "restore it, or re-run the trial that saved it")
