"""One run, set up once: :class:`RunSession`.

Everything that ``run``, ``worker``, ``evaluate`` and ``verify`` need about one
planned run is built here, the same way for all of them: its folder, its resolved
spec, its data in memory (and the ``dataset`` block of run.json), the trial set-up
(precision, XLA, steps per execution), a fresh ``run.json`` record, and its Optuna
study. A session is made from a planned run (``ferbench run``, ``worker``) or
from a run folder alone (``verify``, the worker processes of a local pool, which
read the folder's ``spec.resolved.yaml`` and never the user's file, which may have
changed since).

Importing this module imports neither TensorFlow nor Optuna.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferbench.errors import ResultsError
from ferbench.plan import PlannedRun, plan_spec
from ferbench.results.atomic import write_text
from ferbench.results.paths import RunPaths
from ferbench.results.records import DatasetInfo, Objective, RunRecord
from ferbench.run.progress import PlainReporter, Reporter
from ferbench.secrets import hide_password
from ferbench.spec.types import DerivedSplit, Spec, SplitRef

if TYPE_CHECKING:
    from ferbench.run.train.setup import RunData, TrialSetup
    from ferbench.track.base import Tracker

#: The data of the last session loaded in this process (a plan's runs often share it).
_DATA_CACHE: dict[str, tuple[RunData, DatasetInfo]] = {}


class RunSession:
    """A planned run with its folder, data, trial set-up, run record and study."""

    def __init__(self, planned: PlannedRun, reporter: Reporter | None = None, *, folder: Path | None = None,
                 share_data: bool = True):
        """``share_data``: reuse the data another session of this process loaded (off for ``verify``, which checks it)."""
        self.planned = planned
        self.share_data = share_data
        self.spec: Spec = planned.spec
        self.paths = RunPaths(Path(folder) if folder is not None else Path(planned.results_dir))
        self.reporter = reporter or Reporter()
        self._data: tuple[RunData, DatasetInfo] | None = None
        self._tracker: Tracker | None = None

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def from_folder(cls, folder: str | Path, reporter: Reporter | None = None, *, storage: str | None = None,
                    gpus: Sequence[int] = (), share_data: bool = True) -> RunSession:
        """The session of an existing run folder, from its ``spec.resolved.yaml`` alone.

        The spec must hash to the folder's run.json (an edited spec is refused).
        """
        from ferbench.spec import read_resolved

        paths = RunPaths(Path(folder))
        if not paths.spec.is_file():
            raise ResultsError(f"{paths.spec}: missing; is {folder} a run folder (results/<name>/<run id>)?")
        spec = read_resolved(paths.spec)
        runs = plan_spec(spec, gpus=gpus, storage=storage).runs
        if len(runs) != 1:  # a resolved spec has one cell and one seed
            raise ResultsError(f"{paths.spec}: expands into {len(runs)} runs; a run folder's spec is one run")
        planned = runs[0]
        record = existing_record(paths)
        if record is not None and record.spec_hash != planned.spec_hash:
            raise ResultsError(f"{paths.spec} does not hash to run.json's spec_hash {record.spec_hash[:12]} "
                               f"(it hashes to {planned.spec_hash[:12]}): was it edited?")
        return cls(planned, reporter, folder=paths.root, share_data=share_data)

    # --- identity -------------------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return self.planned.run_id

    @property
    def storage_url(self) -> str:
        """The study's storage (see :attr:`ferbench.plan.PlannedRun.storage_url`)."""
        return self.planned.storage or self._own_storage()

    def _own_storage(self) -> str:
        from ferbench.plan import default_storage

        return default_storage(self.paths.root, len(self.planned.slots))

    @property
    def owns_storage(self) -> bool:
        """Whether the study lives in the run folder (no other host can reach it)."""
        return self.planned.storage is None

    # --- data -----------------------------------------------------------------------------

    def load_data(self) -> RunData:
        """The run's data in memory (loaded once per process for runs that share it)."""
        return self._load()[0]

    @property
    def dataset_info(self) -> DatasetInfo:
        """run.json's ``dataset`` block (loads the data if needed)."""
        return self._load()[1]

    def _load(self) -> tuple[RunData, DatasetInfo]:
        if self._data is not None:
            return self._data
        spec = self.spec
        key = repr((spec.dataset, self.planned.seed, spec.loss, spec.evaluate.on))  # what the loaded data depends on
        if key not in _DATA_CACHE or not self.share_data:
            from ferbench.data import load_dataset
            from ferbench.data.cross import CrossSet, load_cross_set
            from ferbench.run.train.setup import RunData

            t0 = time.monotonic()
            # The loader's own progress bar only where it cannot tear a live view.
            progress = isinstance(self.reporter, PlainReporter)
            budget = spec.runtime.memory_mb
            loaded = load_dataset(spec.dataset, seed=self.planned.seed, progress=progress, memory_mb=budget if isinstance(budget, int) else None)
            for w in loaded.warnings:
                self.reporter.message(f"data: {w}")
            cross: dict[str, CrossSet] = {}
            for on in spec.evaluate.on:
                cross[on.name] = load_cross_set(on, tuple(loaded.classes), loaded.splits["train"].x, seed=self.planned.seed, progress=progress)
                for w in cross[on.name].warnings:
                    self.reporter.message(f"data: {w}")
            data = RunData.from_loaded(loaded, spec.loss, cross)
            splits: dict[str, Any] = {k: _split_ref(getattr(spec.dataset.splits, k)) for k in ("train", "validation", "test") if k in data.sizes()}
            fold: dict[str, Any] | None = None
            if spec.dataset.fold is not None and spec.dataset.folds:
                fold = {"fold": spec.dataset.fold, "folds": spec.dataset.folds}
                if spec.dataset.folds_by == "subject":  # who each split holds, so a reader can check independence
                    fold.update(by="subject", subjects={k: sorted(set(v.tolist())) for k, v in loaded.subjects.items()})
                splits.update(train=data.names["train"], validation=data.names["validation"])
                if spec.dataset.folds_by == "subject":
                    splits.update(test=data.names["test"])
            if spec.dataset.exclude_near_duplicates != "none":  # the report shows the protocol was cleaned
                splits.update(test=data.names["test"])
            info = DatasetInfo(
                kind=spec.dataset.kind, source=str(loaded.source), fingerprint=str(loaded.fingerprint),
                classes=tuple(data.classes), image_size=int(spec.dataset.image_size), color=spec.dataset.color,
                sizes=data.sizes(), splits=splits, class_weight=data.class_weight_dict(), fold=fold,
                cross={name: c.info for name, c in cross.items()} or None,
            )
            sizes = ", ".join(f"{s} {n}" for s, n in data.sizes().items())
            self.reporter.message(f"data: {loaded.source}: {sizes} ({time.monotonic() - t0:.1f}s)")
            for name, c in cross.items():
                self.reporter.message(f"data: extra test set {name}: {c.info['split']} of {c.info['source']}, {c.info['size']} images ({c.info['mapping']})")
            _DATA_CACHE.clear()  # keep one dataset in memory at a time
            _DATA_CACHE[key] = (data, info)
        self._data = _DATA_CACHE[key]
        return self._data

    # --- training -------------------------------------------------------------------------

    @property
    def tracker(self) -> Tracker:
        """The spec's trackers (``tracking``), made once; a failing one costs one line through the reporter."""
        if self._tracker is None:
            from ferbench.track.make import make_tracker

            self._tracker = make_tracker(self.spec, self.paths, self.run_id, warn=_warn)
        return self._tracker

    def trial_setup(self) -> TrialSetup:
        """What every trial of the run shares: data, precision policy, XLA switch."""
        from ferbench.model.runtime import detect_gpus, resolve_jit, resolve_precision
        from ferbench.run.train.setup import TrialSetup

        spec = self.spec
        gpus = detect_gpus() if spec.runtime.devices != "cpu" else []
        spe = spec.runtime.steps_per_execution
        return TrialSetup(spec=spec, data=self.load_data(), precision=resolve_precision(spec.runtime, gpus),
                          jit=resolve_jit(spec.runtime, on_gpu=bool(gpus)), reporter=self.reporter, run_id=self.run_id, tracker=self.tracker,
                          steps_per_execution=spe if isinstance(spe, int) else 1)

    # --- records --------------------------------------------------------------------------

    def fresh_record(self, devices: Sequence[str], storage: str | None = None) -> RunRecord:
        """A run.json record for a run starting now (``storage``: what to record, else the study's)."""
        from ferbench.results.environment import environment

        spec = self.spec
        record = RunRecord.new(
            run_id=self.run_id, spec_name=spec.name, spec_hash=self.planned.spec_hash,
            matrix_cell=self.planned.matrix_cell, seed=self.planned.seed,
            objective=Objective(spec.search.metric, spec.search.direction),
            target=spec.search.trials, dataset=self.dataset_info, environment=environment(), devices=devices,
            storage=self.recorded_storage() if storage is None else storage,
        )
        if spec.search.multi:  # the best of a multi-objective run is its Pareto set
            record = record.but(objectives=tuple(Objective(g.metric, g.direction) for g in spec.search.goals), pareto=())
        return record

    def recorded_storage(self) -> str:
        """run.json's ``storage``: the file name of the folder's own study, else the URL without its password.

        A run folder stays movable (and free of machine paths) when its study lives inside it.
        """

        url = self.storage_url
        for scheme in ("sqlite:///", "journal://"):
            if url.startswith(scheme):
                file = Path(url[len(scheme):])
                if file.is_absolute() and file.parent == self.paths.root.resolve():
                    return file.name
        return hide_password(url)

    def write_spec(self) -> None:
        """Write ``spec.resolved.yaml`` (once: a run's spec never changes)."""
        from ferbench.spec import dump_yaml

        self.paths.root.mkdir(parents=True, exist_ok=True)
        if not self.paths.spec.exists():
            write_text(self.paths.spec, dump_yaml(_shown(self.spec.raw)))


def _shown(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved spec as written to disk: a password in ``tracking.mlflow.uri`` hidden (tracking is not part of the run id)."""
    out = dict(raw)
    mlflow = (out.get("tracking") or {}).get("mlflow")
    if isinstance(mlflow, dict) and mlflow.get("uri"):
        out["tracking"] = {**out["tracking"], "mlflow": {**mlflow, "uri": hide_password(str(mlflow["uri"]))}}
    return out


def _warn(line: str) -> None:
    """A tracker's warning: one line on standard error, whatever the reporter (``--quiet`` included)."""
    import sys

    print(line, file=sys.stderr, flush=True)


def existing_record(paths: RunPaths) -> RunRecord | None:
    """The folder's run.json, or ``None`` for a new run."""
    from ferbench.results.read import read_run_record

    return read_run_record(paths.run_json) if paths.run_json.exists() else None


def _split_ref(ref: SplitRef) -> object:
    """A split as the resolved spec names it: a source split's name, or ``{from, fraction, stratified}``."""
    return ref.to_dict() if isinstance(ref, DerivedSplit) else ref
