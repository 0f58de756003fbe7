"""``ferbench collect``: merge the folders of one run (one per host) into one folder on disk.

Workers on hosts that share no filesystem each leave a folder holding their own
trials. Collecting copies every trial's files — record.json, history.csv,
predictions.npz, traceback.txt — byte for byte into one folder, takes the best
model from whichever folder has it, and writes run.json reconciled (every host,
every trial held). Nothing is written before everything was checked: folders of
different runs, a damaged record, or two different records of one trial are
refused in one line. A record already in the destination is never rewritten;
collecting again (more hosts later, into the same folder) adds what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ferbench.errors import ResultsError
from ferbench.results.atomic import file_lock, write_bytes
from ferbench.results.paths import HISTORY_FILE, MODEL_FILE, PREDICTIONS_FILE, RECORD_FILE, RUN_FILE, TRACEBACK_FILE, RunPaths
from ferbench.results.read import Part, load_predictions, read_json, read_part
from ferbench.results.records import RunRecord
from ferbench.results.runs import best_disagreement, conflicts, merged_info, records_best, refusal, same_run
from ferbench.results.staging import staged
from ferbench.results.write import write_run

#: A trial's files, copied in this order: record.json last, as it marks a finished trial folder.
TRIAL_FILES = (PREDICTIONS_FILE, TRACEBACK_FILE, HISTORY_FILE, MODEL_FILE, RECORD_FILE)  # model.keras: a Pareto trial's


@dataclass
class Collected:
    """What collecting did."""

    into: Path
    info: RunRecord  # run.json as written
    copied: dict[int, Path] = field(default_factory=dict)  # trial -> the folder it was copied from
    kept: list[int] = field(default_factory=list)  # trials the destination held already
    notes: list[str] = field(default_factory=list)


def _one_line(exc: ResultsError) -> ResultsError:
    lines = str(exc).splitlines()
    more = f" (and {len(lines) - 1} more problem(s))" if len(lines) > 1 else ""
    return ResultsError(lines[0] + more)


def _source(folder: Path) -> Part:
    if not (folder / RUN_FILE).is_file():
        raise ResultsError(f"{folder}: not a run folder (no {RUN_FILE}); give run folders (results/<name>/<run id>), one per host")
    try:
        part = read_part(folder)
    except ResultsError as exc:
        raise _one_line(exc) from None
    if part.problems:
        raise _one_line(ResultsError("\n".join(f"{p}: collect copies only whole, valid records" for p in part.problems)))
    paths = RunPaths(part.folder)
    for n in part.numbers:  # predictions are copied byte for byte: a corrupt one would only be found by report
        if (paths.trial(n) / PREDICTIONS_FILE).is_file():
            try:
                load_predictions(paths.trial(n) / PREDICTIONS_FILE, len(part.info.dataset.classes))
            except ResultsError as exc:
                raise ResultsError(f"{exc}; collect copies only whole, valid files") from None
    return part


def _destination(into: Path, sources: Sequence[Part]) -> Part | None:
    """The destination as one more part of the run (it may hold some of it already), or ``None`` when new or empty."""
    if into.exists() and not into.is_dir():
        raise ResultsError(f"{into}: the destination (into=; --into on the command line) exists and is not a folder")
    if (into / RUN_FILE).is_file():
        dest = _source(into)
        try:
            same_run([sources[0], dest])
        except ResultsError as exc:
            raise ResultsError(f"{into} (the destination): {exc}") from None
        return dest
    if into.is_dir() and any(into.iterdir()):
        raise ResultsError(f"{into} (the destination): a folder that is not empty and holds no run; give a new or empty folder, "
                           "or a folder of the same run to add to")
    return None


def _best_model(parts: Sequence[Part], best: int | None) -> Path | None:
    """The folder whose best/ holds the model of trial ``best``."""
    if best is None:
        return None
    for p in parts:
        paths = RunPaths(p.folder)
        if paths.best_model.is_file() and paths.best_info.is_file():
            try:
                trial = read_json(paths.best_info).get("trial")
            except ResultsError:
                continue
            if trial == best:
                return p.folder
    return None


def collect(folders: Sequence[str | Path], into: str | Path) -> Collected:
    """Merge run folders of one run into ``into`` (see the module docstring); :class:`ResultsError` in one line.

    A new destination is built in a staging folder beside it and renamed into place at
    the end: a collect that fails part-way (a full disk) leaves no folder behind.
    """
    if not folders:
        raise ResultsError("collect needs at least one run folder")
    target = Path(into)
    sources = [_source(Path(f)) for f in folders]
    _not_inside(target, sources)
    same_run(sources)
    dest = _destination(target, sources)
    others = [p for p in sources if dest is None or p.folder.resolve() != dest.folder.resolve()]
    parts = ([dest] if dest is not None else []) + others
    clash = conflicts(parts)
    if clash:
        raise ResultsError(clash[0] + (f" (and {len(clash) - 1} more trial(s))" if len(clash) > 1 else "")
                           + "; a record is never rewritten, so nothing was collected")
    refused = refusal(parts)
    if refused is not None:  # report would refuse the folder collect writes: write none
        raise _one_line(ResultsError("\n".join(f"{line}; collect writes only what report reads, so nothing was collected"
                                                for line in refused.splitlines())))
    if dest is not None:
        out = _write(target, target, dest, others, parts)
    else:
        try:
            with staged(target) as staging:  # new or empty (checked above): whole or not at all
                out = _write(target, staging, None, others, parts)
        except OSError as exc:
            raise ResultsError(f"{target} (the destination): cannot write {exc.filename or target.parent} ({exc.strerror or exc}); "
                               "nothing was collected; free space, then collect again") from None
    finished = out.info.trials.complete + out.info.trials.failed + out.info.trials.pruned
    held = len(out.info.holds or ())
    if held < finished:
        out.notes.append(f"{target} holds {held} of the run's {finished} finished trials; collect the folders of the other hosts "
                         "into it too")
    return out


def _not_inside(target: Path, sources: Sequence[Part]) -> None:
    """``--into`` inside one of its own sources would copy a run into itself."""
    real = Path(os.path.realpath(target))
    for p in sources:
        src = Path(os.path.realpath(p.folder))
        if real != src and real.is_relative_to(src):
            raise ResultsError(f"{target} (the destination): inside the run folder {p.folder} it collects from; "
                               "give a folder outside every source")


def _write(target: Path, where: Path, dest: Part | None, others: Sequence[Part], parts: Sequence[Part]) -> Collected:
    """Copy into ``where`` (``target`` itself, or its staging folder): trial files, spec, best model, run.json."""
    paths = RunPaths(where)
    have = set(dest.numbers) if dest is not None else set()
    info = merged_info(parts)
    out = Collected(into=target, info=info, kept=sorted(have))
    records = list({r.trial: r for p in parts for r in p.records}.values())
    why = best_disagreement(info, records)
    best = records_best(records, info.objective.direction)
    if why and best is not None:  # run.json is written from the records: one truth for report
        info = info.but(best_trial=best.trial)
        out.notes.append(f"{why}: the collected run.json names trial {best.trial}")
    try:
        with file_lock(paths.lock, blocking=False) as free:
            if not free:
                raise ResultsError(f"{target} (the destination): a run is in progress in this folder; collect into it once it has stopped")
            _copy_trials(paths, others, have, out)
            _copy_spec_and_model(paths, parts, info, out)
            with file_lock(paths.run_json_lock):
                out.info = write_run(paths.run_json, info)
    except OSError as exc:
        raise ResultsError(f"{target} (the destination): cannot write {exc.filename or where} ({exc.strerror or exc}); "
                           f"nothing was collected{'' if dest is None else ' beyond the whole files already there'}; "
                           "free space, then collect again") from None
    return out


def _copy_trials(paths: RunPaths, others: Sequence[Part], have: set[int], out: Collected) -> None:
    for p in others:
        for n in p.numbers:
            if n in have or n in out.copied:
                continue
            src = RunPaths(p.folder).trial(n)
            for name in TRIAL_FILES:  # byte for byte: the records stay exactly the hosts'
                if (src / name).is_file():
                    write_bytes(paths.trial(n) / name, (src / name).read_bytes())
            out.copied[n] = p.folder


def _copy_spec_and_model(paths: RunPaths, parts: Sequence[Part], info: RunRecord, out: Collected) -> None:
    spec_from = next((p.folder for p in parts if RunPaths(p.folder).spec.is_file()), None)
    if not paths.spec.is_file() and spec_from is not None:
        write_bytes(paths.spec, RunPaths(spec_from).spec.read_bytes())
    model_from = _best_model(parts, info.best_trial)
    if model_from is not None and model_from.resolve() != paths.root.resolve():
        src_paths = RunPaths(model_from)
        write_bytes(paths.best_model, src_paths.best_model.read_bytes())
        write_bytes(paths.best_info, src_paths.best_info.read_bytes())
    elif model_from is None and info.best_trial is not None:
        out.notes.append(f"no folder given holds the model of the best trial {info.best_trial} (best/model.keras); "
                         "collect the folder of the host that ran it to have it")
