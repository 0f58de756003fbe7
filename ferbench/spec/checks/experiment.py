"""Checks of the experiment around the runs: runtime, matrix keys, baselines to compare with."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ferbench.errors import Located
from ferbench.secrets import hide_password
from ferbench.spec.checks.base import check
from ferbench.spec.compose import get_path
from ferbench.spec.schema import subschema, suggest
from ferbench.spec.yaml_loader import LocatedDoc


@check
def runtime_consistent(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Determinism and XLA do not mix; devices: cpu runs float32."""
    rt = data.get("runtime", {})
    if rt.get("deterministic") and rt.get("jit_compile") is True:
        yield doc.locate(("runtime", "jit_compile"), "deterministic: true turns XLA off; set jit_compile: auto or false")
    if rt.get("devices") == "cpu" and rt.get("precision") in ("mixed_float16", "mixed_bfloat16"):
        yield doc.locate(("runtime", "precision"), f"{rt['precision']} needs a GPU; devices is cpu", warning=True)


@check
def matrix_keys_real(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Matrix keys are real spec paths (values are checked when each cell is validated)."""
    for key in data.get("matrix", {}) or {}:
        parts = tuple(key.split("."))
        if parts[0] in ("matrix", "extends", "name", "ferbench"):
            yield doc.locate(("matrix", key), f"{key} cannot vary in a matrix", key=True)
            continue
        sub = subschema(parts)
        if sub is None:
            parent = subschema(parts[:-1]) or {}
            hint = suggest(parts[-1], list(parent.get("properties", {}))) if parent else ""
            yield doc.locate(("matrix", key), f"{key} is not a spec path{hint}", key=True)


@check
def baselines_known(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """``report.compare`` names baselines that exist in the built-in registry."""
    compare = get_path(data, "report.compare", []) or []
    if not compare:
        return
    from ferbench.baselines_registry import baseline_ids

    ids = baseline_ids()
    for i, b in enumerate(compare):
        if b not in ids:
            hint = suggest(b, ids) or f"; known: {', '.join(ids)}"
            yield doc.locate(("report", "compare", i), f"unknown baseline {b!r}{hint}")


#: The tracking URI schemes MLflow's client reads (a bare absolute path is a local file store).
MLFLOW_SCHEMES = ("http", "https", "file", "sqlite", "postgresql", "mysql", "mssql", "databricks", "databricks-uc", "uc")


@check
def tracking_uri_readable(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """``tracking.mlflow.uri`` is a URI MLflow reads: one of its schemes, or an absolute path."""
    uri = get_path(data, "tracking.mlflow.uri", None)
    if not isinstance(uri, str) or uri.startswith("/"):
        return
    scheme = uri.partition(":")[0].split("+")[0].lower() if ":" in uri else ""
    if scheme not in MLFLOW_SCHEMES:
        shown = hide_password(uri)
        yield doc.locate(("tracking", "mlflow", "uri"), f"{shown!r} is not a tracking URI MLflow reads; use one of "
                         f"{', '.join(s + ':' for s in MLFLOW_SCHEMES[:4])} ..., or an absolute path (e.g. http://127.0.0.1:5000)")


@check
def storage_is_a_url(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """``runtime.storage`` is a ``scheme://...`` URL; a value that is not is refused without its password."""
    from ferbench.secrets import storage_problem

    url = get_path(data, "runtime.storage", None)
    problem = storage_problem(url) if isinstance(url, str) and url else None
    if problem:
        yield doc.locate(("runtime", "storage"), problem)
