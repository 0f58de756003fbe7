"""The schema and ``validate`` hold a spec to the same verdict: whatever ``validate`` accepts,
the schema (as an editor applies it, to the file as written) accepts too. The other way
round the schema may be laxer: what JSON Schema cannot say (``low > high``, a base spec's
architecture seen from the spec that extends it) stays in ``validate``."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from ferbench.errors import SpecError
from ferbench.spec.schema import load_schema
from ferbench.spec.yaml_loader import loads


def _editor_validator() -> Any:
    from ferbench.model.registry import archs

    return _validator_for(tuple(archs()))


@functools.cache
def _validator_for(archs: tuple[str, ...]) -> Any:
    """The schema as an editor has it, but knowing the families registered at run time
    (``model.registry.register``), as validate does: the one thing a file cannot tell."""
    import jsonschema

    schema = copy.deepcopy(load_schema())
    arch = schema["$defs"]["model"]["properties"]["arch"]
    next(n for n in [arch, *arch.get("anyOf", [])] if "enum" in n)["enum"] = list(archs)
    return jsonschema.Draft202012Validator(schema)


def editor_problems(path: str | Path) -> list[str] | None:
    """What the full schema (generated rules included) says of the file as written; None if it is no YAML mapping."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    validator = _editor_validator()
    key = (text, id(validator))
    if key not in _SEEN:  # the suite validates the same specs many times: each text is checked once
        _SEEN[key] = (validator, _problems_of_text(text, validator))  # (the validator kept alive: its id stays its own)
    return _SEEN[key][1]


_SEEN: dict[tuple[str, int], tuple[Any, list[str] | None]] = {}


def _problems_of_text(text: str, validator: Any) -> list[str] | None:
    try:
        data = loads(text, "<spec>").data
    except SpecError:
        return None
    if not isinstance(data, dict):
        return None
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in validator.iter_errors(data)]


def disagreement(path: str | Path, validate_ok: bool) -> str | None:
    """A message when validate accepts a spec the schema refuses (a red mark on a correct spec)."""
    if not validate_ok:
        return None
    found = editor_problems(path)
    if not found:
        return None
    return f"{path}: validate accepts it, the schema refuses it: {'; '.join(found[:5])}"
