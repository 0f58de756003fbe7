"""Validation of results files against ``schemas/record.schema.json`` and ``schemas/run.schema.json``.

Writers check before they write (a record that breaks the schema is a bug, caught
at the source); readers check what they read and say every problem at once.
"""

from __future__ import annotations

import functools
from typing import Any

from ferbench.results.records import SCHEMA_VERSION

UPGRADE = "upgrade ferbench to read it (pip install -U ferbench)"


@functools.cache
def _validator(name: str) -> Any:
    import jsonschema

    from ferbench.spec.schema import load_schema

    return jsonschema.Draft202012Validator(load_schema(name))


def newer_version(data: object) -> str | None:
    """The problem with a ``schema_version`` newer than this ferbench reads, else ``None``."""
    if isinstance(data, dict):
        version = data.get("schema_version")
        if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
            return f"schema_version {version} is newer than this ferbench reads ({SCHEMA_VERSION}); {UPGRADE}"
    return None


def schema_problems(data: object, schema: str) -> list[str]:
    """Every way ``data`` breaks the named schema of ``schemas/`` (empty when valid)."""
    return _problems(data, schema)


def _problems(data: object, schema: str) -> list[str]:
    """``json.path: message`` for every schema violation; a newer schema_version is one problem."""
    newer = newer_version(data)
    if newer:
        return [newer]
    out = []
    for err in sorted(_validator(schema).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path).lstrip(".")
        msg = err.message if len(err.message) < 160 else err.message[:157] + "..."
        out.append(f"{where or '(top)'}: {msg}")
    return out


def record_problems(data: object) -> list[str]:
    """Every way ``data`` breaks ``schemas/record.schema.json`` (empty when valid)."""
    return _problems(data, "record.schema.json")


def run_problems(data: object) -> list[str]:
    """Every way ``data`` breaks ``schemas/run.schema.json`` (empty when valid)."""
    return _problems(data, "run.schema.json")
