"""What an editor and a pre-commit hook need from ferbench: the ``$schema`` modeline a spec
carries, and ``validate``'s problems as JSON (``schemas/problems.schema.json``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ferbench.errors import Located

MODELINE_PREFIX = "# yaml-language-server: $schema="
_MODELINE = re.compile(r"(?m)^# yaml-language-server: \$schema=.*\n?")


def schema_reference(target: str | os.PathLike[str], schema: str | os.PathLike[str] | None = None) -> str:
    """How a spec written at ``target`` names the spec schema: a path relative to the spec's
    folder when the spec is inside the checkout that holds the schema (they move together),
    else the installed schema's ``file://`` URI."""
    from ferbench.spec.schema import schema_path

    where = Path(os.path.realpath(Path(schema) if schema is not None else schema_path()))
    folder = Path(os.path.realpath(Path(target).parent))
    checkout = where.parent.parent  # <checkout>/schemas/spec.schema.json
    if folder == checkout or checkout in folder.parents:
        return Path(os.path.relpath(where, folder)).as_posix()
    return where.as_uri()


def with_modeline(text: str, target: str | os.PathLike[str]) -> str:
    """``text`` with its first line the modeline that points an editor at the spec schema."""
    body = _MODELINE.sub("", text, count=1)
    return f"{MODELINE_PREFIX}{schema_reference(target)}\n{body}"


def problem_record(p: Located) -> dict[str, Any]:
    """One problem as the JSON of ``validate --format json``."""
    return {"file": p.file, "line": p.line, "column": p.col, "key": p.path, "message": p.message,
            "severity": "warning" if p.warning else "error"}


def problems_document(results: Iterable[tuple[str, bool, list[Located]]]) -> dict[str, Any]:
    """``validate --format json``: each file's verdict, and every problem of every file."""
    files: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for path, ok, found in results:
        files.append({"file": path, "valid": ok})
        problems.extend(problem_record(p) for p in found)
    return {"version": 1, "files": files, "problems": problems}
