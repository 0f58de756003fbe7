"""Phase one of validation: the JSON Schema, turned into located, readable errors."""

from __future__ import annotations

import copy
import difflib
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ferbench.errors import Located
from ferbench.spec.yaml_loader import LocatedDoc, Path_

_SCHEMA_DIRS = (
    Path(__file__).resolve().parents[1] / "_schemas",  # installed wheel
    Path(__file__).resolve().parents[2] / "schemas",  # source checkout / editable install
)


def schema_path(name: str = "spec.schema.json") -> Path:
    """Where a schema file of ours lives."""
    for d in _SCHEMA_DIRS:
        if (d / name).is_file():
            return d / name
    raise FileNotFoundError(f"schema {name} not found in {', '.join(str(d) for d in _SCHEMA_DIRS)}")


@functools.cache
def load_schema(name: str = "spec.schema.json") -> dict[str, Any]:
    """One of our JSON Schemas, parsed once."""
    schema: dict[str, Any] = json.loads(schema_path(name).read_text(encoding="utf-8"))
    return schema


def _deref(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**node, **extra}
    return schema


def subschema(path: Path_, root: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The schema of a dotted path's value (None if the path is not part of the spec language)."""
    root = root or load_schema()
    node = _deref(root, root)
    for part in path:
        node = _deref(node, root)
        props = node.get("properties")
        if props is not None and part in props:
            node = _deref(props[part], root)
        elif isinstance(node.get("additionalProperties"), dict):
            node = _deref(node["additionalProperties"], root)
        else:
            return None
    return node


def fill_defaults(data: object, schema: dict[str, Any] | None = None, root: dict[str, Any] | None = None) -> object:
    """Fill schema ``default`` values into ``data`` in place (only where data is a mapping)."""
    root = root or load_schema()
    schema = _deref(schema or root, root)
    if not isinstance(data, dict):
        return data
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        branch = _deref(branch, root)
        if branch.get("type") == "object":
            schema = branch
            break
    for key, sub in schema.get("properties", {}).items():
        sub = _deref(sub, root)
        if key not in data and "default" in sub:
            data[key] = json.loads(json.dumps(sub["default"]))
        if key in data:
            fill_defaults(data[key], sub, root)
    return data


def suggest(word: str, options: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` or ''."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _type_name(v: object) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping", type(None): "null"}.get(type(v), type(v).__name__)


def _show(v: object) -> str:
    s = json.dumps(v, default=str) if not isinstance(v, str) else repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def _messages(err: Any, root: dict[str, Any], doc: LocatedDoc, prefix: Path_ = ()) -> Iterator[Located]:
    # err: a jsonschema ValidationError; its stubs type validator/instance/schema loosely (Unset unions).
    path = prefix + tuple(err.absolute_path)
    v, inst, sch = err.validator, err.instance, err.schema
    if v == "additionalProperties" and isinstance(inst, dict):
        allowed = list(sch.get("properties", {}))
        for extra in sorted(set(inst) - set(allowed), key=str):
            hint = suggest(extra, allowed) or (f"; allowed: {', '.join(allowed)}" if len(allowed) <= 12 else "")
            yield doc.locate(path + (extra,), f"unknown key {extra!r}{hint}", key=True)
    elif v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        yield doc.locate(path, f"missing required key {missing!r}")
    elif v == "pattern" and "propertyNames" in err.schema_path:
        yield doc.locate(path + (inst,), f"{inst!r} is not a dotted spec path like loss.class_weight (or model, with whole model sections)", key=True)
    elif v == "enum" and "propertyNames" in err.schema_path:
        opts = sch["enum"]
        yield doc.locate(path + (inst,), f"unknown name {inst!r}{suggest(inst, opts)}; allowed: {', '.join(opts)}", key=True)
    elif v == "enum":
        opts = sch["enum"]
        yield doc.locate(path, f"must be one of {', '.join(_show(o) for o in opts)}; got {_show(inst)}{suggest(inst, [str(o) for o in opts])}")
    elif v == "const":
        yield doc.locate(path, f"must be {_show(sch['const'])}, got {_show(inst)}")
    elif v == "type":
        want = sch["type"] if isinstance(sch["type"], str) else " or ".join(sch["type"])
        yield doc.locate(path, f"expected {want}, got {_type_name(inst)}" + ("" if inst is None else f" {_show(inst)}"))
    elif v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[v]
        yield doc.locate(path, f"must be {op} {sch[v]}, got {_show(inst)}")
    elif v in ("minItems", "maxItems"):
        yield doc.locate(path, f"needs {'at least' if v == 'minItems' else 'at most'} {sch[v]} item(s), got {len(inst)}")
    elif v == "uniqueItems":
        yield doc.locate(path, "items must be unique")
    elif v == "pattern":
        yield doc.locate(path, f"{_show(inst)} does not match the pattern {sch['pattern']}")
    elif v in ("oneOf", "anyOf") and err.context:
        # Report the branch that got furthest; if all are shallow, list what is accepted.
        best = max(err.context, key=lambda e: (len(e.absolute_path), e.validator not in ("type", "const", "enum")))
        if len(best.absolute_path) > len(err.absolute_path) or (isinstance(inst, dict) and best.validator != "type"):
            yield from _messages(best, root, doc, ())
        else:
            kinds = []
            for b in sch[v]:
                b = _deref(b, root)
                if "enum" in b:
                    kinds.append(" or ".join(_show(o) for o in b["enum"]))
                elif "const" in b:
                    kinds.append(_show(b["const"]))
                elif "type" in b:
                    kinds.append(b["type"] if isinstance(b["type"], str) else "/".join(b["type"]))
            yield doc.locate(path, f"expected {' or '.join(kinds)}, got {_type_name(inst)} {_show(inst)}")
    else:
        yield doc.locate(path, err.message if len(err.message) < 200 else err.message[:197] + "...")


def _with_registered_archs(root: dict[str, Any]) -> dict[str, Any]:
    """The spec schema, ``model.arch`` accepting the families registered at run time too (model.registry.register)."""
    from ferbench.model.registry import archs

    arch = root["$defs"]["model"]["properties"]["arch"]
    if list(arch["enum"]) == list(archs()):
        return root
    patched = copy.deepcopy(root)
    patched["$defs"]["model"]["properties"]["arch"]["enum"] = list(archs())
    return patched


def schema_problems(doc: LocatedDoc, data: Any | None = None, name: str = "spec.schema.json") -> list[Located]:
    """Validate ``data`` (default ``doc.data``) against a schema; located problems, all of them."""
    import jsonschema

    root = _with_registered_archs(load_schema(name)) if name == "spec.schema.json" else load_schema(name)
    validator = jsonschema.Draft202012Validator(root)
    target = doc.data if data is None else data
    out: list[Located] = []
    seen: set[str] = set()
    for err in sorted(validator.iter_errors(target), key=lambda e: [str(p) for p in e.absolute_path]):
        for p in _messages(err, root, doc):
            if str(p) not in seen:
                seen.add(str(p))
                out.append(p)
    return sorted(out, key=lambda p: (p.file, p.line, p.col))
