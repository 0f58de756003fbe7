"""The generated rules of the spec schema that say in JSON Schema what ``validate``'s
semantic checks say in Python: matrix keys, each family's hyperparameters and stages, and
hyperparameters fixed and searched at once. Written into the schema's top-level ``allOf``
by :mod:`ferbench.spec.schema_rules`; an editor flags these mistakes as they are typed."""

from __future__ import annotations

import re
from typing import Any

from ferbench.spec.schema_env import strip_env

_NOT_VARIED = ("matrix", "extends", "name", "ferbench")


def _deref(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and node["$ref"].startswith("#/$defs/") and node["$ref"] != "#/$defs/finite":
        target = root["$defs"][node["$ref"].split("/")[-1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return strip_env(node)


def spec_paths(root: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Dotted paths a matrix may vary (as ``validate`` resolves them) with their descriptions, and prefixes of open mappings."""
    # Whole sections (model: [...]) where the hand-written key pattern allows them.
    pattern = str(root["properties"]["matrix"].get("propertyNames", {}).get("pattern", "^model$"))
    paths = {k: str(_deref(v, root).get("description", "")) for k, v in root["properties"].items()
             if k not in _NOT_VARIED and re.search(pattern, k)}
    open_prefixes: list[str] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        node = _deref(node, root)
        for key, sub in node.get("properties", {}).items():
            path = f"{prefix}{key}"
            if not prefix and key in _NOT_VARIED:
                continue
            if prefix and path not in paths:
                paths[path] = str(_deref(sub, root).get("description", ""))
            walk(sub, path + ".")
        if isinstance(node.get("additionalProperties"), dict) and prefix:
            open_prefixes.append(prefix)

    walk(root, "")
    return paths, open_prefixes


def space_properties(root: dict[str, Any]) -> dict[str, Any]:
    """``search.space``'s keys, one per searchable hyperparameter, described by the key each one sets."""
    from ferbench.spec.types import SEARCHABLE

    space = root["$defs"]["search"]["properties"]["space"]
    out = {}
    for name in space.get("propertyNames", {}).get("enum", []):
        key = SEARCHABLE[name]
        node: dict[str, Any] | None = root
        for part in key.split("."):
            node = _deref(node, root).get("properties", {}).get(part) if node is not None else None
        meaning = str(_deref(node, root).get("description", "")) if node is not None else ""
        out[f"^{name}$"] = {"$ref": "#/$defs/searchParam", "description": f"Searches `{key}`: {meaning}".rstrip(": ")}
    return out


def matrix_rule(root: dict[str, Any]) -> dict[str, Any]:
    """``matrix`` keys: the real spec paths (``model`` for whole model sections)."""
    paths, open_prefixes = spec_paths(root)

    def desc(path: str) -> str:
        return f"One run per value of `{path}`" + (f": {paths[path]}" if paths[path] else ".")

    return {"properties": {"matrix": {
        "properties": {p: {"description": desc(p), "markdownDescription": desc(p), "type": "array"} for p in paths},
        "patternProperties": {"^" + re.escape(p) + ".+$": {"type": "array"} for p in open_prefixes},
        "additionalProperties": False,
        "errorMessage": "a matrix key is a dotted spec path such as loss.class_weight or train.batch_size, or model",
    }}}


def _arch_fixed(name: str | None) -> dict[str, Any]:
    """``if``: the spec's one architecture is ``name`` (None: none is written, so the default one)."""
    searched = {"required": ["search"], "properties": {"search": {"required": ["space"], "properties": {"space": {"required": ["arch"]}}}}}
    varied = {"required": ["matrix"], "properties": {"matrix": {"anyOf": [{"required": ["model"]}, {"required": ["model.arch"]}]}}}
    rules: list[dict[str, Any]] = [{"not": searched}, {"not": varied}]
    if name is None:
        rules += [{"not": {"required": ["extends"]}},
                  {"not": {"required": ["model"], "properties": {"model": {"required": ["arch"]}}}}]
    else:
        rules.append({"required": ["model"], "properties": {"model": {"required": ["arch"], "properties": {"arch": {"const": name}}}}})
    return {"allOf": rules}


def family_rules(root: dict[str, Any]) -> list[dict[str, Any]]:
    """One ``if arch == X then`` rule per family: the hyperparameters it lacks, the stages it has."""
    from ferbench.model.family import MODEL_HYPERPARAMETERS
    from ferbench.model.registry import FAMILIES

    out = []
    for name, fam in [*FAMILIES.items(), (None, FAMILIES["efficientnetv2-s"])]:
        n = len(fam.stages)
        prefixes = [list(range(k)) for k in range(1, n + 1)]
        why = f"{fam.name} keeps a prefix of its stages 0..{n - 1}, starting at 0, e.g. {prefixes[min(2, n - 1)]}"
        model: dict[str, Any] = {"stages": {"anyOf": [{"enum": prefixes, "errorMessage": why}, {"$ref": "#/$defs/envVar"}]}}
        space: dict[str, Any] = {}
        for hp in MODEL_HYPERPARAMETERS:
            if hp not in fam.takes:
                why = fam.lacks(hp).split(": ", 1)[1]
                model[hp] = {"type": "null", "errorMessage": f"{why}; remove model.{hp}"}
                space[hp] = {"type": "null", "errorMessage": f"{why}; remove it from search.space"}
        then: dict[str, Any] = {"properties": {"model": {"properties": model}}}
        if space:
            then["properties"]["search"] = {"properties": {"space": {"properties": space}}}
        out.append({"if": _arch_fixed(name), "then": then})
    return out


def searched_rules() -> list[dict[str, Any]]:
    """A hyperparameter is fixed in its section or searched in search.space, not both."""
    from ferbench.spec.types import SEARCHABLE

    out = []
    for name, key in SEARCHABLE.items():
        parts = key.split(".")
        fixed: dict[str, Any] = {"type": "null", "errorMessage": f"{name} is both fixed here and searched in search.space; remove one"}
        for part in reversed(parts):
            fixed = {"properties": {part: fixed}}
        searched = {"required": ["search"], "properties": {"search": {"required": ["space"], "properties": {"space": {"required": [name]}}}}}
        out.append({"if": searched, "then": fixed})
    return out
