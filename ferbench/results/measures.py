"""What a trial measured, as records hold it: metrics per split, with test-time augmentation,
the model's cost and latency, and the bounds of ``search.constraints`` it was held to.

Typed, with ``to_dict``/``from_dict`` giving exactly the JSON on disk; the records that
hold them are in :mod:`ferbench.results.records`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast


@dataclass(frozen=True)
class SplitMetrics:
    """A metrics block ``M`` of a record (docs/results-format.md)."""

    n: int
    loss: float | None
    accuracy: float
    precision_macro: float
    recall_macro: float
    f1_macro: float
    precision_weighted: float
    recall_weighted: float
    f1_weighted: float
    per_class: Mapping[str, Mapping[str, float]]
    confusion: tuple[tuple[int, ...], ...]
    #: Absent (None) in records written before them.
    balanced_accuracy: float | None = None
    kappa: float | None = None
    brier: float | None = None
    ece: float | None = None
    #: Against the FER+ vote distributions (``dataset.labels``); absent otherwise.
    soft_nll: float | None = None
    soft_ece: float | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SplitMetrics:
        return cls(**{**d, "confusion": tuple(tuple(int(v) for v in r) for r in d["confusion"])})

    @property
    def nll(self) -> float | None:
        """The negative log-likelihood: the record's ``loss``, the mean cross-entropy of the saved probabilities."""
        return self.loss

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n, "loss": self.loss, "accuracy": self.accuracy,
            "precision_macro": self.precision_macro, "recall_macro": self.recall_macro, "f1_macro": self.f1_macro,
            "precision_weighted": self.precision_weighted, "recall_weighted": self.recall_weighted,
            "f1_weighted": self.f1_weighted,
            "per_class": {c: dict(v) for c, v in self.per_class.items()},
            "confusion": [list(r) for r in self.confusion],
            **{k: v for k, v in (("balanced_accuracy", self.balanced_accuracy), ("kappa", self.kappa),
                                 ("brier", self.brier), ("ece", self.ece), ("soft_nll", self.soft_nll),
                                 ("soft_ece", self.soft_ece)) if v is not None},
        }


@dataclass(frozen=True)
class TTAMetrics:
    """The metrics with test-time augmentation (``metrics.tta`` of a record; version 2)."""

    method: Literal["flip", "ten_crop"]
    validation: SplitMetrics
    test: SplitMetrics
    cross: Mapping[str, SplitMetrics] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"method": self.method, "validation": self.validation.to_dict(), "test": self.test.to_dict()}
        if self.cross:
            d["cross"] = {k: v.to_dict() for k, v in self.cross.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TTAMetrics:
        return cls(method=cast(Literal["flip", "ten_crop"], str(d["method"])),
                   validation=SplitMetrics.from_dict(d["validation"]), test=SplitMetrics.from_dict(d["test"]),
                   cross={k: SplitMetrics.from_dict(v) for k, v in (d.get("cross") or {}).items()})


@dataclass(frozen=True)
class CalibrationMetrics:
    """``evaluate.calibrate``: the temperature fitted on validation and the metrics after scaling (``metrics.calibration``)."""

    method: str  # temperature
    temperature: float
    validation: SplitMetrics
    test: SplitMetrics

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "temperature": self.temperature,
                "validation": self.validation.to_dict(), "test": self.test.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CalibrationMetrics:
        return cls(method=str(d["method"]), temperature=float(d["temperature"]),
                   validation=SplitMetrics.from_dict(d["validation"]), test=SplitMetrics.from_dict(d["test"]))


@dataclass(frozen=True)
class RobustnessMetrics:
    """``evaluate.robustness``: test accuracy per corruption, one value per severity (``metrics.robustness``)."""

    seed: int
    severities: tuple[int, ...]
    clean: float
    accuracy: Mapping[str, tuple[float, ...]]

    def mean(self) -> float:
        """The mean accuracy over every corruption and severity."""
        values = [v for row in self.accuracy.values() for v in row]
        return sum(values) / len(values) if values else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "severities": list(self.severities), "clean": self.clean,
                "accuracy": {k: list(v) for k, v in self.accuracy.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RobustnessMetrics:
        return cls(seed=int(d["seed"]), severities=tuple(int(s) for s in d["severities"]), clean=float(d["clean"]),
                   accuracy={k: tuple(float(x) for x in v) for k, v in d["accuracy"].items()})


@dataclass(frozen=True)
class Cost:
    """Size of the model built for a trial (``None`` where it could not be built or is unknown)."""

    params: int | None = None
    macs: int | None = None


@dataclass(frozen=True)
class LatencyBatch:
    """The median time of one inference call on a batch of ``batch_size`` images."""

    batch_size: int
    median_ms: float
    warmup: int
    repeats: int

    @property
    def per_image_ms(self) -> float:
        return self.median_ms / self.batch_size


@dataclass(frozen=True)
class Latency:
    """Inference latency of a model on one device (``latency`` of a record and of an export record; version 2)."""

    device: str  # "cpu", or "gpu:N"
    device_name: str | None
    runtime: str  # what ran it, with its version: "tensorflow 2.21.0", "tflite 2.21.0", ...
    batches: tuple[LatencyBatch, ...]
    threads: int | None = None
    load_1min: float | None = None

    @property
    def batch_1_ms(self) -> float | None:
        """Median milliseconds of a batch of one image (what ``latency_ms`` objectives and bounds use)."""
        return next((b.median_ms for b in self.batches if b.batch_size == 1), None)

    @property
    def where(self) -> str:
        """``cpu (Intel Xeon, 2 threads)``: the device in words."""
        extra = ", ".join(x for x in (self.device_name, f"{self.threads} threads" if self.threads else None) if x)
        return f"{self.device} ({extra})" if extra else self.device

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"device": self.device, "device_name": self.device_name, "runtime": self.runtime}
        if self.threads is not None:
            d["threads"] = self.threads
        if self.load_1min is not None:
            d["load_1min"] = round(self.load_1min, 2)
        d["batches"] = [{"batch_size": b.batch_size, "median_ms": round(b.median_ms, 4), "warmup": b.warmup, "repeats": b.repeats}
                        for b in self.batches]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Latency:
        return cls(device=str(d["device"]), device_name=d.get("device_name"), runtime=str(d["runtime"]),
                   batches=tuple(LatencyBatch(int(b["batch_size"]), float(b["median_ms"]), int(b["warmup"]), int(b["repeats"]))
                                 for b in d["batches"]),
                   threads=d.get("threads"), load_1min=d.get("load_1min"))


@dataclass(frozen=True)
class Bound:
    """One bound of ``search.constraints`` and the trial's value (``None``: not measured)."""

    metric: Literal["params", "macs", "latency_ms"]
    max: float
    value: float | None

    @property
    def violation(self) -> float:
        """How far over the bound, relative to it (what Optuna is told; <= 0 is feasible, 0 where unmeasured)."""
        return 0.0 if self.value is None else (float(self.value) - self.max) / self.max


@dataclass(frozen=True)
class ConstraintCheck:
    """The trial against every bound of ``search.constraints`` (``constraints`` of a record; version 2)."""

    bounds: tuple[Bound, ...]

    @property
    def feasible(self) -> bool:
        return all(b.violation <= 0 for b in self.bounds)

    @property
    def broken(self) -> tuple[Bound, ...]:
        return tuple(b for b in self.bounds if b.violation > 0)

    def to_dict(self) -> dict[str, Any]:
        def num(metric: str, v: float | None) -> float | int | None:
            return None if v is None else (float(v) if metric == "latency_ms" else int(v))

        return {"feasible": self.feasible,
                "bounds": {b.metric: {"max": num(b.metric, b.max), "value": num(b.metric, b.value)} for b in self.bounds}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConstraintCheck:
        return cls(tuple(Bound(k, float(v["max"]), None if v["value"] is None else float(v["value"])) for k, v in d["bounds"].items()))
