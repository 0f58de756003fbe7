"""``${NAME}`` / ``${NAME:-default}`` values in the schema: the alternative every value
schema carries (so an editor accepts what ``validate`` accepts once it has expanded the
variables), and the plain view of a value schema without it."""

from __future__ import annotations

from typing import Any

#: A whole-value reference to an environment variable, as ``validate`` expands it.
ENV_PATTERN = r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$"
ENV_REF = "#/$defs/envVar"
FINITE_REF = "#/$defs/finite"
ENV_DEF: dict[str, Any] = {
    "$comment": ("An environment variable, ${NAME} or ${NAME:-default}, that `ferbench validate` expands (and types as YAML) "
                 "before it checks the value. No description: an editor's hover shows the property's own."),
    "type": "string",
    "pattern": ENV_PATTERN,
    "patternErrorMessage": "a string here must be a whole ${NAME} or ${NAME:-default}",
}
_OUTER = ("description", "markdownDescription", "default", "examples", "title", "deprecated")
_PLAIN_TYPES = {"number", "integer", "boolean", "null"}


def _types(node: dict[str, Any]) -> list[str]:
    t = node.get("type")
    return list(t) if isinstance(t, list) else [t] if isinstance(t, str) else []


def accepts_env_node(node: dict[str, Any], root: dict[str, Any]) -> bool:
    """Whether a value schema already accepts the string ``${NAME}``."""
    import jsonschema

    probe = {**node, "$defs": root.get("$defs", {})}
    return bool(jsonschema.Draft202012Validator(probe).is_valid("${NAME}"))


def env_alternative(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` also accepting a whole ``${NAME}`` string (the type list where it can, else anyOf)."""
    types = _types(node)
    if types and set(types) <= _PLAIN_TYPES and not ({"enum", "const", "oneOf", "anyOf", "pattern"} & set(node)):
        want = " or ".join(types)
        return {**node, "type": [*types, "string"], "pattern": ENV_PATTERN,
                "patternErrorMessage": f"expected {want}; a string here must be a whole ${{NAME}} or ${{NAME:-default}}"}
    outer = {k: v for k, v in node.items() if k in _OUTER}
    inner = {k: v for k, v in node.items() if k not in _OUTER}
    return {**outer, "anyOf": [inner, {"$ref": ENV_REF}]}


def strip_env(node: dict[str, Any]) -> dict[str, Any]:
    """The value schema as written by hand: no ``${NAME}`` alternative, no finite-number reference."""
    if node.get("$ref") == FINITE_REF:
        node = {k: v for k, v in node.items() if k != "$ref"}
    if node.get("pattern") == ENV_PATTERN and "string" in _types(node):
        rest = [t for t in _types(node) if t != "string"]
        node = {k: v for k, v in node.items() if k not in ("pattern", "patternErrorMessage")}
        node["type"] = rest[0] if len(rest) == 1 else rest
    branches = node.get("anyOf")
    if isinstance(branches, list) and {"$ref": ENV_REF} in branches:
        rest_b = [b for b in branches if b != {"$ref": ENV_REF}]
        node = {k: v for k, v in node.items() if k != "anyOf"}
        node = {**node, **rest_b[0]} if len(rest_b) == 1 else {**node, "anyOf": rest_b}
    return node


def is_env_error_schema(schema: object) -> bool:
    """A jsonschema error raised by the ``${NAME}`` alternative itself (not worth showing)."""
    return isinstance(schema, dict) and schema.get("pattern") == ENV_PATTERN and schema.get("type") == "string"
