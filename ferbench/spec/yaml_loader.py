"""Safe YAML loading that remembers where every value came from.

PyYAML's safe loader accepts duplicate keys silently, recurses on deep nesting and
expands alias bombs without limit. This loader walks PyYAML's event stream itself
(no recursion), so it can refuse all three quickly, and it records the line and
column of every mapping key and value so errors can point at the offending node.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ferbench.errors import Located, SpecError

MAX_BYTES = 2 * 1024 * 1024  # a spec is a few KB; anything this large is a mistake
MAX_DEPTH = 64
MAX_NODES = 200_000  # counts nodes after alias expansion (alias bombs)

Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class Mark:
    file: str
    line: int  # 1-based
    col: int  # 1-based


@dataclass
class LocatedDoc:
    """Plain data plus the source position of each node, keyed by its path."""

    data: Any
    marks: dict[Path_, Mark] = field(default_factory=dict)  # value positions
    key_marks: dict[Path_, Mark] = field(default_factory=dict)  # mapping-key positions

    def mark_for(self, path: Path_, *, key: bool = False) -> Mark:
        """The position of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        if key and p in self.key_marks:
            return self.key_marks[p]
        while p:
            if p in self.marks:
                return self.marks[p]
            p = p[:-1]
        return self.marks.get((), Mark("<spec>", 1, 1))

    def locate(self, path: Path_, message: str, *, key: bool = False, warning: bool = False) -> Located:
        m = self.mark_for(path, key=key)
        return Located(m.file, m.line, m.col, dotted(path), message, warning)


def dotted(path: Path_) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")


class _Resolver(yaml.resolver.Resolver):
    """YAML 1.1 resolver that also reads ``5e-6`` (no dot) as a float, as people write it."""


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)

_SAFE_TAGS = {
    "tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}


class _Constructor(yaml.constructor.SafeConstructor):
    pass


def _scalar(value: str, tag: str, style: str | None, mark: Mark) -> Any:
    node = yaml.ScalarNode(tag, value, style=style)
    try:
        return _Constructor().construct_object(node)
    except yaml.YAMLError as exc:
        raise SpecError([Located(mark.file, mark.line, mark.col, "", f"bad value {value!r}: {exc}")]) from None


def _mark(m: yaml.Mark, file: str) -> Mark:
    return Mark(file, m.line + 1, m.column + 1)


class _Frame:
    __slots__ = ("kind", "value", "path", "key", "key_mark", "anchor", "start")

    def __init__(self, kind: str, value: Any, path: Path_, anchor: str | None, start: Mark):
        self.kind = kind  # "map" | "seq"
        self.value = value
        self.path = path
        self.key: Any = _NO_KEY
        self.key_mark: Mark | None = None
        self.anchor = anchor
        self.start = start


_NO_KEY = object()


def _size(obj: Any) -> int:
    """Nodes in ``obj`` counted with repetition (an alias counts its whole subtree)."""
    n, stack = 0, [obj]
    while stack:
        o = stack.pop()
        n += 1
        if n > MAX_NODES:
            break
        if isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, list):
            stack.extend(o)
    return n


def loads(text: str, file: str = "<string>") -> LocatedDoc:
    """Parse one YAML document into a :class:`LocatedDoc`, refusing unsafe input."""
    if len(text.encode("utf-8", "ignore")) > MAX_BYTES:
        raise SpecError([Located(file, 1, 1, "", f"file is larger than {MAX_BYTES // 1024} KB; a spec is a few KB")])
    doc = LocatedDoc(data=None)
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    total = 0
    root_set = False
    docs = 0

    def err(m: Mark, msg: str, path: Path_ = ()) -> SpecError:
        return SpecError([Located(m.file, m.line, m.col, dotted(path), msg)])

    def attach(value: Any, mark: Mark, size: int) -> None:
        nonlocal root_set, total
        total += size
        if total > MAX_NODES:
            raise err(mark, f"document expands to more than {MAX_NODES} nodes (an alias bomb?)")
        if not stack:
            if root_set:
                raise err(mark, "only one YAML document is allowed per spec")
            doc.data, root_set = value, True
            doc.marks[()] = mark
            return
        top = stack[-1]
        if top.kind == "seq":
            path = top.path + (len(top.value),)
            top.value.append(value)
            doc.marks[path] = mark
            return
        if top.key is _NO_KEY:  # this value is a key
            if isinstance(value, (dict, list)):
                raise err(mark, "mapping keys must be plain scalars", top.path)
            if value in top.value:
                raise err(mark, f"duplicate key {value!r} (first defined at line {doc.key_marks[top.path + (value,)].line})", top.path + (value,))
            top.key, top.key_mark = value, mark
            return
        path = top.path + (top.key,)
        top.value[top.key] = value
        doc.marks[path] = mark
        assert top.key_mark is not None
        doc.key_marks[path] = top.key_mark
        top.key = _NO_KEY

    def child_path() -> Path_:
        if not stack:
            return ()
        top = stack[-1]
        if top.kind == "seq":
            return top.path + (len(top.value),)
        return top.path + (top.key,) if top.key is not _NO_KEY else top.path

    try:
        for ev in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(ev, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                continue
            if isinstance(ev, yaml.DocumentStartEvent):
                docs += 1
                if docs > 1:
                    raise err(_mark(ev.start_mark, file), "only one YAML document is allowed per spec")
                continue
            mark = _mark(ev.start_mark, file)
            tag = getattr(ev, "tag", None)
            if tag and tag not in _SAFE_TAGS and tag != "!":
                raise err(mark, f"tag {tag} is not allowed (specs are plain data)", child_path())
            if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(stack) >= MAX_DEPTH:
                    raise err(mark, f"nesting deeper than {MAX_DEPTH} levels", child_path())
                kind = "map" if isinstance(ev, yaml.MappingStartEvent) else "seq"
                if stack and stack[-1].kind == "map" and stack[-1].key is _NO_KEY:
                    raise err(mark, "mapping keys must be plain scalars", stack[-1].path)
                stack.append(_Frame(kind, {} if kind == "map" else [], child_path(), ev.anchor, mark))
            elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                fr = stack.pop()
                size = _size(fr.value)
                if fr.anchor:
                    anchors[fr.anchor] = (fr.value, size)
                attach(fr.value, fr.start, 1)
            elif isinstance(ev, yaml.ScalarEvent):
                resolved = ev.tag if ev.tag and ev.tag != "!" else _Resolver().resolve(yaml.ScalarNode, ev.value, ev.implicit)
                value = _scalar(ev.value, resolved, ev.style, mark)
                if ev.anchor:
                    anchors[ev.anchor] = (value, 1)
                attach(value, mark, 1)
            elif isinstance(ev, yaml.AliasEvent):
                if ev.anchor not in anchors:
                    raise err(mark, f"unknown alias *{ev.anchor}")
                value, size = anchors[ev.anchor]
                attach(value, mark, size)
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        line, col = (m.line + 1, m.column + 1) if m else (1, 1)
        raise SpecError([Located(file, line, col, "", f"invalid YAML: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Located(file, 1, 1, "", f"invalid YAML: {exc}")]) from None
    return doc


def load_file(path: str | os.PathLike[str]) -> LocatedDoc:
    """Read and parse a YAML file; size is checked before reading it all."""
    p = Path(path)
    shown = str(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise SpecError([Located(shown, 1, 1, "", "file not found")]) from None
    except OSError as exc:
        raise SpecError([Located(shown, 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    if size > MAX_BYTES:
        raise SpecError([Located(shown, 1, 1, "", f"file is {size // 1024} KB, larger than {MAX_BYTES // 1024} KB; a spec is a few KB")])
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([Located(shown, 1, 1, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    return loads(text, shown)
