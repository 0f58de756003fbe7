"""Spec composition: ``extends`` (deep merge), ``${VAR}`` expansion and ``--set`` overrides.

All three keep the source position of every value, so an error in a value that came
from a base file, an environment variable or the command line still points at it.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ferbench.errors import Located, SpecError
from ferbench.spec.yaml_loader import LocatedDoc, Mark, Path_, dotted, load_file, loads

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MAX_EXTENDS = 16


def _drop_under(marks: dict[Path_, Mark], path: Path_) -> None:
    n = len(path)
    for p in [p for p in marks if p[:n] == path and len(p) > n]:
        del marks[p]


def _merge(base: LocatedDoc, child: LocatedDoc) -> LocatedDoc:
    """Deep-merge ``child`` over ``base``: mappings merge, everything else replaces."""
    out = LocatedDoc(copy.deepcopy(base.data), dict(base.marks), dict(base.key_marks), base.problems + child.problems)

    def walk(dst: dict[str, Any], src: dict[str, Any], path: Path_) -> None:
        for k, v in src.items():
            p = path + (k,)
            if isinstance(v, dict) and isinstance(dst.get(k), dict):
                out.marks[p] = child.marks.get(p, out.marks.get(p))  # type: ignore[assignment]
                out.key_marks[p] = child.key_marks.get(p, out.key_marks.get(p))  # type: ignore[assignment]
                walk(dst[k], v, p)
            else:
                dst[k] = copy.deepcopy(v)
                _drop_under(out.marks, p)
                _drop_under(out.key_marks, p)
                for q, m in child.marks.items():
                    if q[: len(p)] == p:
                        out.marks[q] = m
                for q, m in child.key_marks.items():
                    if q[: len(p)] == p:
                        out.key_marks[q] = m

    walk(out.data, child.data, ())
    out.marks[()] = child.marks.get((), out.marks.get((), Mark("<spec>", 1, 1)))
    return out


def _shown(p: Path) -> Path:
    """A path as the user would write it: relative to the working folder where that is short."""
    rel = os.path.relpath(p)
    return Path(rel) if not rel.startswith(".." + os.sep + "..") else p


def load_composed(path: str | os.PathLike[str], _chain: tuple[Path, ...] = ()) -> LocatedDoc:
    """Load ``path`` and, recursively, the files it ``extends``; return the merged document."""
    doc = load_file(path, keep_going=True)
    if not isinstance(doc.data, dict):
        kind = "empty" if doc.data is None else type(doc.data).__name__
        raise SpecError([doc.locate((), f"a spec must be a mapping of sections, got {kind}")])
    # os.path.realpath, unlike Path.resolve before Python 3.13, does not raise on a symlink loop.
    here = Path(os.path.realpath(path))
    ext = doc.data.get("extends")
    if ext is None:
        return doc
    if not isinstance(ext, str) or not ext.strip() or "\0" in ext:
        got = repr(ext[:60]) if isinstance(ext, str) else type(ext).__name__
        raise SpecError([doc.locate(("extends",), f"extends must be a file path, got {got}")])
    target = Path(os.path.realpath(here.parent / ext))
    chain = _chain + (here,)
    if target in chain:
        raise SpecError([doc.locate(("extends",), f"extends cycle: {' -> '.join(p.name for p in chain + (target,))}")])
    if len(chain) > MAX_EXTENDS:
        raise SpecError([doc.locate(("extends",), f"more than {MAX_EXTENDS} levels of extends")])
    if not os.path.isfile(target):
        why = ("is a symlink loop" if os.path.islink(target) else "is a folder" if os.path.isdir(target)
               else "is not a regular file (a FIFO, socket or device); give a YAML file" if os.path.exists(target)
               else f"not found (looked for {target.name} next to {here.name})")
        raise SpecError([doc.locate(("extends",), f"base spec {ext!r} {why}")])
    base = load_composed(_shown(target), chain)
    child = LocatedDoc({k: v for k, v in doc.data.items() if k != "extends"}, doc.marks, doc.key_marks, doc.problems)
    return _merge(base, child)


def expand_env(doc: LocatedDoc, env: Mapping[str, str] | None = None) -> list[Located]:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string, in place; return problems."""
    env = os.environ if env is None else env
    problems: list[Located] = []

    def sub(s: str, path: Path_) -> str:
        def one(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env and env[name] != "":
                return env[name]
            if default is not None:
                return default
            problems.append(doc.locate(path, f"environment variable {name} is not set (set it, or write ${{{name}:-default}})"))
            return m.group(0)

        return _VAR.sub(one, s)

    def walk(node: object, path: Path_) -> object:
        if isinstance(node, str):
            out = sub(node, path)
            if out != node and _VAR.fullmatch(node):
                # `batch_size: ${BS:-32}` means the number 32, as it would if written directly
                try:
                    typed = loads(out, "<env>").data
                except SpecError:
                    return out
                return typed if isinstance(typed, (int, float, bool)) else out
            return out
        if isinstance(node, dict):
            return {k: walk(v, path + (k,)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, path + (i,)) for i, v in enumerate(node)]
        return node

    doc.data = walk(doc.data, ())
    return problems


def parse_override(text: str) -> tuple[str, Any, Mark]:
    """``a.b.c=value`` -> (dotted key, YAML-typed value, a mark naming the override)."""
    mark = Mark(f"--set {text}", 1, 1)
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_0-9]+)*", key):
        raise SpecError([Located(mark.file, 1, 1, "", "an override is dotted.key=value, e.g. --set model.width=1.0")])
    if key.split(".")[0] == "extends":  # bases are merged before overrides apply, so this would be ignored
        raise SpecError([Located(mark.file, 1, 1, "extends", "cannot be set with --set (bases are merged first); write extends: FILE in the spec")])
    value = loads(raw, mark.file).data if raw.strip() else ""
    return key, value, Mark(mark.file, 1, len(key) + 2)


def set_path(doc: LocatedDoc, key: str, value: object, mark: Mark) -> None:
    """Set a dotted key in ``doc`` (creating mappings on the way), recording its mark."""
    parts = key.split(".")
    node = doc.data
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
            doc.marks[tuple(parts[: i + 1])] = mark
            doc.key_marks[tuple(parts[: i + 1])] = mark
        node = nxt
    path = tuple(parts)
    node[parts[-1]] = copy.deepcopy(value)
    _drop_under(doc.marks, path)
    _drop_under(doc.key_marks, path)
    doc.marks[path] = mark
    doc.key_marks[path] = mark


def get_path(data: object, key: str | Path_, default: Any = None) -> Any:
    node = data
    for part in key.split(".") if isinstance(key, str) else key:
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def apply_overrides(doc: LocatedDoc, overrides: list[str] | tuple[str, ...]) -> list[str]:
    """Apply ``--set`` overrides; a fixed searched parameter leaves the search space.

    Returns notes for the plan (which parameters were taken out of the search).
    """
    from ferbench.spec.types import SEARCHABLE

    notes: list[str] = []
    by_key = {v: k for k, v in SEARCHABLE.items()}
    for text in overrides:
        key, value, mark = parse_override(text)
        set_path(doc, key, value, mark)
        name = by_key.get(key)
        space = get_path(doc.data, "search.space")
        if name and isinstance(space, dict) and name in space:
            del space[name]
            _drop_under(doc.marks, ("search", "space", name))
            notes.append(f"{name} fixed at {value!r} by --set {key}: removed from the search space")
    return notes


__all__ = ["apply_overrides", "dotted", "expand_env", "get_path", "load_composed", "parse_override", "set_path"]
