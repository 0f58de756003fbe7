"""Export records: ``trials/<n>/exports/<format>/export.json``, written by ``ferbench export``.

One record per exported format of one trial's model, beside the trial: the files
written, what they were made from, how they were quantised, the exported model's
accuracy re-evaluated on the run's test split, and its latency through its own
runtime. Written once, never rewritten, checked against ``schemas/export.schema.json``
before it is written and when it is read, like every other record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ferbench.errors import ResultsError
from ferbench.results.atomic import json_clean
from ferbench.results.measures import Latency, SplitMetrics
from ferbench.results.paths import EXPORT_FILE, EXPORTS_DIR, RunPaths
from ferbench.results.records import SCHEMA_VERSION

#: The formats ``ferbench export`` writes, in the order it lists them.
EXPORT_FORMATS: tuple[str, ...] = ("savedmodel", "tflite", "tflite-float16", "tflite-int8", "onnx")


@dataclass(frozen=True)
class ExportedFile:
    path: str  # relative to the record's folder
    bytes: int
    sha256: str | None = None


@dataclass(frozen=True)
class Parity:
    """How closely the exported model answers like the Keras model on the run's test split (``parity``)."""

    max_abs_prob_diff: float  # the largest difference in any class probability of any test image
    tolerance: float  # what the format's conversion is expected to stay within
    images: int

    @property
    def within(self) -> bool:
        return self.max_abs_prob_diff <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {"against": "keras", "split": "test", "images": self.images, "max_abs_prob_diff": self.max_abs_prob_diff,
                "tolerance": self.tolerance, "within_tolerance": self.within}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Parity:
        return cls(float(d["max_abs_prob_diff"]), float(d["tolerance"]), int(d["images"]))


@dataclass(frozen=True)
class ExportRecord:
    """One exported model (``export.json``)."""

    run_id: str
    trial: int
    format: str
    files: tuple[ExportedFile, ...]
    source_model: str  # relative to the run folder
    source_sha256: str
    quantization: Mapping[str, Any] | None
    test: SplitMetrics
    keras_test_accuracy: float | None
    latency: Latency
    created: str
    tta_method: str | None = None
    tta_test: SplitMetrics | None = None
    environment: Mapping[str, Any] = field(default_factory=dict)
    converter: Mapping[str, Any] | None = None  # {name, version, opset} where the format has a converter of its own (ONNX)
    parity: Parity | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def size_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def accuracy_change(self) -> float | None:
        """Test accuracy of the export minus the Keras model's (percentage points / 100)."""
        return None if self.keras_test_accuracy is None else self.test.accuracy - self.keras_test_accuracy

    def to_dict(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {"test": self.test.to_dict(), "keras_test_accuracy": self.keras_test_accuracy}
        if self.tta_test is not None and self.tta_method is not None:
            metrics["tta"] = {"method": self.tta_method, "test": self.tta_test.to_dict()}
        d: dict[str, Any] = {
            "schema_version": self.schema_version, "run_id": self.run_id, "trial": self.trial, "format": self.format,
            "files": [{"path": f.path, "bytes": f.bytes, **({"sha256": f.sha256} if f.sha256 else {})} for f in self.files],
            "size_bytes": self.size_bytes,
            "source": {"model": self.source_model, "sha256": self.source_sha256},
            "quantization": None if self.quantization is None else dict(self.quantization),
            "metrics": metrics, "latency": self.latency.to_dict(), "created": self.created,
        }
        if self.environment:
            d["environment"] = dict(self.environment)
        if self.converter is not None:
            d["converter"] = dict(self.converter)
        if self.parity is not None:
            d["parity"] = self.parity.to_dict()
        return cast("dict[str, Any]", json_clean(d))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExportRecord:
        m = d["metrics"]
        tta = m.get("tta") or {}
        return cls(
            run_id=str(d["run_id"]), trial=int(d["trial"]), format=str(d["format"]),
            files=tuple(ExportedFile(str(f["path"]), int(f["bytes"]), f.get("sha256")) for f in d["files"]),
            source_model=str(d["source"]["model"]), source_sha256=str(d["source"]["sha256"]), quantization=d["quantization"],
            test=SplitMetrics.from_dict(m["test"]), keras_test_accuracy=m.get("keras_test_accuracy"),
            latency=Latency.from_dict(d["latency"]), created=str(d["created"]),
            tta_method=tta.get("method"), tta_test=SplitMetrics.from_dict(tta["test"]) if tta else None,
            environment=dict(d.get("environment") or {}), converter=d.get("converter"),
            parity=Parity.from_dict(d["parity"]) if d.get("parity") else None, schema_version=int(d.get("schema_version", SCHEMA_VERSION)),
        )


def export_problems(data: object) -> list[str]:
    """Every way ``data`` breaks ``schemas/export.schema.json`` (empty when valid)."""
    from ferbench.results.schema import schema_problems

    return schema_problems(data, "export.schema.json")


def read_export(path: Path) -> ExportRecord:
    """One ``export.json``, validated."""
    from ferbench.results.read import read_json

    data = read_json(path)
    bad = export_problems(data)
    if bad:
        raise ResultsError("\n".join(f"{path}: {p}" for p in bad))
    return ExportRecord.from_dict(data)


def write_export(path: Path, record: ExportRecord) -> None:
    """Write ``export.json`` once (checked against the schema first); an existing one is never replaced."""
    from ferbench.results.atomic import write_json

    if path.exists():
        raise ResultsError(f"{path}: this model was exported here already (records are never rewritten)")
    data = record.to_dict()
    bad = export_problems(data)
    if bad:  # a bug in ferbench, never the user's doing: keep the traceback
        raise ValueError("refusing to write an invalid export record: " + "; ".join(bad[:5]))
    write_json(path, data)


def trial_exports(root: Path, trial: int) -> list[ExportRecord]:
    """The export records beside one trial of the run folder ``root``, in :data:`EXPORT_FORMATS` order."""
    folder = RunPaths(root).trial(trial) / EXPORTS_DIR
    if not folder.is_dir():
        return []
    found = [read_export(f / EXPORT_FILE) for f in sorted(folder.iterdir()) if (f / EXPORT_FILE).is_file()]
    order = {fmt: i for i, fmt in enumerate(EXPORT_FORMATS)}
    return sorted(found, key=lambda r: order.get(r.format, len(order)))
