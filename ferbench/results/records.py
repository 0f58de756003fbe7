"""Typed records: ``trials/<n>/record.json`` and ``run.json``, with their to/from-dict.

:class:`TrialRecord` and :class:`RunRecord` are the one in-memory form of the two
files. ``to_dict`` gives exactly the JSON object written to disk (strict JSON:
non-finite numbers become ``null``), and ``from_dict`` reads it back, older
records included (fields added since are optional). Validation against
``schemas/`` lives in :mod:`ferbench.results.schema`; reading and writing folders
in :mod:`ferbench.results.read` and :mod:`ferbench.results.write`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Literal, cast

from ferbench.results.atomic import json_clean
from ferbench.results.health import Health
from ferbench.results.measures import CalibrationMetrics, ConstraintCheck, Cost, Latency, RobustnessMetrics, SplitMetrics, TTAMetrics
from ferbench.spec.enums import Direction, Split

#: The version written. Readers read every version up to it (docs/results-format.md lists what each added).
SCHEMA_VERSION = 2

TrialState = Literal["complete", "failed", "pruned", "infeasible"]
RunStatus = Literal["running", "complete", "failed", "interrupted"]

#: The states that count toward a run's trials (``infeasible`` ones never trained and do not count).
TRIAL_STATES: tuple[TrialState, ...] = ("complete", "failed", "pruned")
#: The splits a trial is scored on (validation picks the best trial, test reports it).
SCORED_SPLITS: tuple[Split, ...] = ("validation", "test")


def utc_now() -> str:
    """ISO 8601 UTC timestamp with a ``Z``, to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- trial records --------------------------------------------------------------------------


@dataclass(frozen=True)
class Timings:
    train_s: float | None = 0.0  # None: unknown (a model trained elsewhere)
    eval_s: float = 0.0
    epoch_s: tuple[float, ...] = ()


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial (``trials/<n>/record.json``)."""

    run_id: str
    trial: int
    state: TrialState
    error: str | None
    params: Mapping[str, Any]
    hyperparameters: Mapping[str, Any]
    cost: Cost
    epochs: int
    best_epoch: int | None
    objective: float | None
    history: Mapping[str, tuple[float | None, ...]]
    class_weight: Mapping[str, float] | None
    timings: Timings
    seed: int
    started: str
    finished: str
    #: The process that trained the trial (workers on several hosts differ); absent in old records.
    environment: Mapping[str, Any] | None = None
    validation: SplitMetrics | None = None
    test: SplitMetrics | None = None
    #: With test-time augmentation (``evaluate.tta``), beside the plain numbers; version 2.
    tta: TTAMetrics | None = None
    #: Extra test sets (``evaluate.on``) by name; version 2.
    cross: Mapping[str, SplitMetrics] = field(default_factory=dict)
    #: ``evaluate.calibrate`` and ``evaluate.robustness``; version 2, optional.
    calibration: CalibrationMetrics | None = None
    robustness: RobustnessMetrics | None = None
    #: A multi-objective run: each objective's value as told to Optuna (``None``: not measured); version 2.
    values: tuple[float | None, ...] | None = None
    #: Inference latency of the trained model on the trial's device; version 2.
    latency: Latency | None = None
    #: The trial against ``search.constraints``; version 2.
    constraints: ConstraintCheck | None = None
    schema_version: int = SCHEMA_VERSION
    #: The initial weights loaded (``model.weights``): source, tensors loaded and skipped, and why; absent when none.
    weights: Mapping[str, Any] | None = None
    #: Degenerate-model flags and their numbers (:mod:`ferbench.results.health`); absent in older records and failed trials.
    health: Health | None = None

    @property
    def number(self) -> int:
        return self.trial

    @property
    def has_metrics(self) -> bool:
        return self.validation is not None and self.test is not None

    @property
    def feasible(self) -> bool:
        """Within every bound of ``search.constraints`` (a run without bounds: always)."""
        return self.state != "infeasible" and (self.constraints is None or self.constraints.feasible)

    @property
    def latency_ms(self) -> float | None:
        """Median batch-1 latency on the trial's device, where measured."""
        return None if self.latency is None else self.latency.batch_1_ms

    def metrics(self, split: str) -> SplitMetrics | None:
        """The metrics block of ``validation`` or ``test``."""
        if split not in SCORED_SPLITS:
            raise ValueError(f"no metrics for split {split!r}")
        return cast("SplitMetrics | None", getattr(self, split))

    def to_dict(self) -> dict[str, Any]:
        """The record.json object (strict JSON values; ``metrics`` only when there are some)."""
        d: dict[str, Any] = {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "trial": self.trial,
            "state": self.state,
            "error": self.error,
            "params": dict(self.params),
            "hyperparameters": dict(self.hyperparameters),
            "cost": {"params": self.cost.params, "macs": self.cost.macs},
            "epochs": self.epochs,
            "best_epoch": self.best_epoch,
            "objective": self.objective,
            **({"values": list(self.values)} if self.values is not None else {}),
            "history": {k: list(v) for k, v in self.history.items()},
            "class_weight": None if self.class_weight is None else dict(self.class_weight),
            "timings": {"train_s": None if self.timings.train_s is None else round(self.timings.train_s, 3),
                        "eval_s": round(self.timings.eval_s, 3),
                        "epoch_s": [round(s, 3) for s in self.timings.epoch_s]},
            "seed": self.seed,
            "started": self.started,
            "finished": self.finished,
        }
        if self.environment is not None:
            d["environment"] = dict(self.environment)
        if self.weights is not None:
            d["weights"] = dict(self.weights)
        if self.latency is not None:
            d["latency"] = self.latency.to_dict()
        if self.constraints is not None:
            d["constraints"] = self.constraints.to_dict()
        if self.health is not None:
            d["health"] = self.health.to_dict()
        if self.validation is not None and self.test is not None:
            d["metrics"] = {"validation": self.validation.to_dict(), "test": self.test.to_dict()}
            if self.cross:
                d["metrics"]["cross"] = {k: v.to_dict() for k, v in self.cross.items()}
            if self.tta is not None:
                d["metrics"]["tta"] = self.tta.to_dict()
            if self.calibration is not None:
                d["metrics"]["calibration"] = self.calibration.to_dict()
            if self.robustness is not None:
                d["metrics"]["robustness"] = self.robustness.to_dict()
        return cast("dict[str, Any]", json_clean(d))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrialRecord:
        """A record from its JSON object (validated by the reader first)."""
        metrics = d.get("metrics") or {}
        timings = d["timings"]
        return cls(
            run_id=str(d["run_id"]), trial=int(d["trial"]), state=d["state"], error=d["error"],
            params=dict(d["params"]), hyperparameters=dict(d["hyperparameters"]),
            cost=Cost(d["cost"]["params"], d["cost"]["macs"]), epochs=int(d["epochs"]), best_epoch=d["best_epoch"],
            objective=d["objective"], history={k: tuple(v) for k, v in d["history"].items()},
            class_weight=d["class_weight"],
            timings=Timings(None if timings["train_s"] is None else float(timings["train_s"]), float(timings["eval_s"]),
                            tuple(timings.get("epoch_s", ()))),
            seed=int(d["seed"]), started=d["started"], finished=d["finished"], environment=d.get("environment"),
            validation=SplitMetrics.from_dict(metrics["validation"]) if metrics else None,
            test=SplitMetrics.from_dict(metrics["test"]) if metrics else None,
            tta=TTAMetrics.from_dict(metrics["tta"]) if metrics.get("tta") else None,
            cross={k: SplitMetrics.from_dict(v) for k, v in (metrics.get("cross") or {}).items()},
            calibration=CalibrationMetrics.from_dict(metrics["calibration"]) if metrics.get("calibration") else None,
            robustness=RobustnessMetrics.from_dict(metrics["robustness"]) if metrics.get("robustness") else None,
            values=None if d.get("values") is None else tuple(d["values"]),
            latency=Latency.from_dict(d["latency"]) if d.get("latency") else None,
            constraints=ConstraintCheck.from_dict(d["constraints"]) if d.get("constraints") else None,
            schema_version=int(d.get("schema_version", SCHEMA_VERSION)), weights=d.get("weights"),
            health=Health.from_dict(d["health"]) if d.get("health") else None,
        )


# --- run.json -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: Direction


@dataclass(frozen=True)
class TrialCounts:
    """Finished trials against the target (what run.json's ``trials`` says)."""

    target: int
    complete: int = 0
    failed: int = 0
    pruned: int = 0
    #: Over a bound on parameters or MACs: never trained, not counted toward ``target``.
    infeasible: int = 0

    def of(self, state: TrialState) -> int:
        return cast(int, getattr(self, state))

    def to_dict(self) -> dict[str, int]:
        """run.json's ``trials`` block (``infeasible`` only where there are some)."""
        d = {"target": self.target, "complete": self.complete, "failed": self.failed, "pruned": self.pruned}
        if self.infeasible:
            d["infeasible"] = self.infeasible
        return d


@dataclass(frozen=True)
class DatasetInfo:
    """run.json's ``dataset`` block: what the run trained and was tested on."""

    kind: str
    source: str
    fingerprint: str
    classes: tuple[str, ...]
    image_size: int
    color: str
    sizes: Mapping[str, int]
    splits: Mapping[str, Any]  # as in the spec: a named split or {from, fraction, stratified}
    class_weight: Mapping[str, float] | None
    #: k-fold: ``{"fold": i, "folds": k}``, with ``by`` and ``subjects`` for subject folds (absent without folds).
    fold: Mapping[str, Any] | None = None
    #: Extra test sets by name: ``{kind, source, fingerprint, labels, split, classes, size, dropped, in_train, mapping}``.
    cross: Mapping[str, Mapping[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind, "source": self.source, "fingerprint": self.fingerprint, "classes": list(self.classes),
             "image_size": self.image_size, "color": self.color, "sizes": dict(self.sizes),
             "splits": dict(self.splits), "class_weight": None if self.class_weight is None else dict(self.class_weight)}
        if self.fold is not None:
            d["fold"] = dict(self.fold)
        if self.cross:
            d["cross"] = {k: dict(v) for k, v in self.cross.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DatasetInfo:
        return cls(kind=d["kind"], source=d["source"], fingerprint=d["fingerprint"], classes=tuple(d["classes"]),
                   image_size=int(d["image_size"]), color=d["color"], sizes=dict(d["sizes"]), splits=dict(d["splits"]),
                   class_weight=d["class_weight"], fold=d.get("fold"), cross=d.get("cross"))


@dataclass(frozen=True)
class RunRecord:
    """One run (``run.json``): identity, data, environment, status and trial counts."""

    run_id: str
    spec_name: str
    spec_hash: str
    status: RunStatus
    created: str
    updated: str
    wall_time_s: float
    matrix_cell: Mapping[str, Any]
    seed: int
    objective: Objective
    trials: TrialCounts
    best_trial: int | None
    dataset: DatasetInfo
    environment: Mapping[str, Any]
    devices: tuple[str, ...]
    storage: str
    #: The hosts that wrote into this folder (several share one folder on a shared filesystem); absent in older files.
    hosts: tuple[str, ...] = ()
    #: The trial numbers whose records this folder holds (a host's folder may hold only its own); ``None``: not recorded.
    holds: tuple[int, ...] | None = None
    #: A multi-objective run: every objective, in order (``objective`` is the one that picks the best trial).
    objectives: tuple[Objective, ...] = ()
    #: A multi-objective run: the trial numbers of its Pareto set; ``None`` for a single-objective run.
    pareto: tuple[int, ...] | None = None
    #: The batch jobs whose workers wrote into this folder, as ``scheduler:id`` (``slurm:4711``); absent in older files.
    jobs: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def new(cls, *, run_id: str, spec_name: str, spec_hash: str, matrix_cell: Mapping[str, Any], seed: int,
            objective: Objective, target: int, dataset: DatasetInfo, environment: Mapping[str, Any],
            devices: Sequence[str], storage: str) -> RunRecord:
        """A run that starts now."""
        now = utc_now()
        host = environment.get("host")
        return cls(run_id=run_id, spec_name=spec_name, spec_hash=spec_hash, status="running", created=now, updated=now,
                   wall_time_s=0.0, matrix_cell=dict(matrix_cell), seed=int(seed), objective=objective,
                   trials=TrialCounts(target=int(target)), best_trial=None, dataset=dataset,
                   environment=dict(environment), devices=tuple(devices), storage=storage,
                   hosts=(str(host),) if host else ())

    def but(self, **changes: Any) -> RunRecord:
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return replace(self, **changes)

    @property
    def writers(self) -> tuple[str, ...]:
        """The hosts that wrote the folder: ``hosts``, or for an older run.json the host of its environment."""
        if self.hosts:
            return self.hosts
        host = self.environment.get("host")
        return (str(host),) if host else ()

    def to_dict(self) -> dict[str, Any]:
        d = {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "spec_name": self.spec_name,
            "spec_hash": self.spec_hash,
            "status": self.status,
            "created": self.created,
            "updated": self.updated,
            "wall_time_s": round(float(self.wall_time_s), 3),
            "matrix_cell": dict(self.matrix_cell),
            "seed": self.seed,
            "objective": {"metric": self.objective.metric, "direction": self.objective.direction},
            "trials": self.trials.to_dict(),
            "best_trial": self.best_trial,
            "dataset": self.dataset.to_dict(),
            "environment": dict(self.environment),
            "devices": list(self.devices),
            "storage": self.storage,
        }
        if self.hosts:
            d["hosts"] = list(self.hosts)
        if self.holds is not None:
            d["holds"] = list(self.holds)
        if self.objectives:
            d["objectives"] = [{"metric": o.metric, "direction": o.direction} for o in self.objectives]
        if self.pareto is not None:
            d["pareto"] = list(self.pareto)
        if self.jobs:
            d["jobs"] = list(self.jobs)
        return cast("dict[str, Any]", json_clean(d))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunRecord:
        t = d["trials"]
        return cls(
            run_id=str(d["run_id"]), spec_name=str(d["spec_name"]), spec_hash=str(d["spec_hash"]), status=d["status"],
            created=d["created"], updated=d["updated"], wall_time_s=float(d["wall_time_s"]),
            matrix_cell=dict(d["matrix_cell"]), seed=int(d["seed"]),
            objective=Objective(d["objective"]["metric"], d["objective"]["direction"]),
            trials=TrialCounts(int(t["target"]), int(t["complete"]), int(t["failed"]), int(t["pruned"]), int(t.get("infeasible", 0))),
            best_trial=d["best_trial"], dataset=DatasetInfo.from_dict(d["dataset"]), environment=dict(d["environment"]),
            devices=tuple(d["devices"]), storage=str(d["storage"]), hosts=tuple(str(h) for h in d.get("hosts", ())),
            holds=None if d.get("holds") is None else tuple(int(n) for n in d["holds"]),
            objectives=tuple(Objective(o["metric"], o["direction"]) for o in d.get("objectives") or ()),
            pareto=None if d.get("pareto") is None else tuple(int(n) for n in d["pareto"]),
            jobs=tuple(str(j) for j in d.get("jobs", ())),
            schema_version=int(d.get("schema_version", SCHEMA_VERSION)),
        )


@dataclass(frozen=True)
class Predictions:
    """Labels and predicted probabilities of one trial on validation and test (``predictions.npz``).

    ``extra`` holds the arrays version 2 may add: ``<split>_y_prob_tta`` (test-time
    augmentation, same rows as ``<split>_y_prob``), ``<split>_image`` (each sample's
    name), ``<split>_y_soft`` (FER+ vote distributions, N×K), ``test_attribute_<name>``
    (the test images' own attributes), and per extra test set
    ``cross_<name>_y_true``, ``cross_<name>_y_prob`` and ``cross_<name>_y_prob_tta``
    (columns: the set's scored classes, see run.json's ``dataset.cross``).
    """

    validation_y_true: Any  # numpy int64 (N,)
    validation_y_prob: Any  # numpy float32 (N, K)
    test_y_true: Any
    test_y_prob: Any
    extra: Mapping[str, Any] = field(default_factory=dict)

    def y_true(self, split: str = "test") -> Any:
        return getattr(self, f"{split}_y_true")

    def y_prob(self, split: str = "test") -> Any:
        return getattr(self, f"{split}_y_prob")

    def y_pred(self, split: str = "test") -> Any:
        """Predicted class: the arg-max of the probabilities."""
        return self.y_prob(split).argmax(axis=1)

    def tta_prob(self, split: str = "test") -> Any | None:
        """The probabilities with test-time augmentation, or ``None`` when the trial has none."""
        return self.extra.get(f"{split}_y_prob_tta")

    @property
    def cross_names(self) -> list[str]:
        """The extra test sets whose predictions are saved."""
        return [k[len("cross_"):-len("_y_true")] for k in self.extra if k.startswith("cross_") and k.endswith("_y_true")]

    def cross(self, name: str, *, tta: bool = False) -> tuple[Any, Any] | None:
        """``(y_true, y_prob)`` of an extra test set (with test-time augmentation when ``tta``), or ``None``."""
        y, p = self.extra.get(f"cross_{name}_y_true"), self.extra.get(f"cross_{name}_y_prob{'_tta' if tta else ''}")
        return None if y is None or p is None else (y, p)

    def images(self, split: str = "test") -> Any | None:
        """Each sample's image name (``<split>_image``), or ``None`` where the data names none."""
        return self.extra.get(f"{split}_image")

    def votes(self, split: str = "test") -> Any | None:
        """FER+: each sample's vote distribution over the classes (``<split>_y_soft``), or ``None``."""
        return self.extra.get(f"{split}_y_soft")

    @property
    def attributes(self) -> dict[str, Any]:
        """The test samples' own attributes (RAF-DB gender, race, age) by name (``test_attribute_<name>``)."""
        return {k[len("test_attribute_"):]: v for k, v in self.extra.items() if k.startswith("test_attribute_")}

    def arrays(self) -> dict[str, Any]:
        """The arrays by their name in ``predictions.npz``."""
        return {**{k: getattr(self, k) for k in PREDICTION_KEYS}, **dict(self.extra)}


PREDICTION_KEYS = ("validation_y_true", "validation_y_prob", "test_y_true", "test_y_prob")


@dataclass(frozen=True)
class TrialResult:
    """Everything a finished trial leaves on disk: its record and the files beside it."""

    record: TrialRecord
    predictions: Predictions | None = None
    traceback: str | None = None  # of a trial that failed with an exception
    #: Per-epoch learning rate: in history.csv, not in the record.
    lr: tuple[float, ...] = field(default=())
