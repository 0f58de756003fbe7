"""Safe YAML loading that remembers where every value came from.

PyYAML's safe loader accepts duplicate keys silently, recurses on deep nesting and
expands alias bombs without limit. Here PyYAML only composes the document into nodes,
with a cap on nesting and on the number of nodes (an alias is a reference to a node
already composed, so composing is linear in the text). A walk over the nodes then
builds plain data, refusing duplicate keys, tags that are not plain data and alias
expansions beyond the node budget, and records the line and column of every mapping
key and value so errors can point at the offending node.
"""

from __future__ import annotations

import copy
import math
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Any

import yaml

from ferbench.errors import Located, SpecError

MAX_BYTES = 2 * 1024 * 1024  # a spec is a few KB; anything this large is a mistake
MAX_DEPTH = 64
MAX_NODES = 200_000  # counts nodes after alias expansion (alias bombs)
MAX_INT_CHARS = 100  # no number in a spec needs more; Python refuses to convert beyond 4,300 digits
_TOO_MANY = f"document expands to more than {MAX_NODES} nodes (an alias bomb?)"

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
    problems: list[Located] = field(default_factory=list)  # values found unusable while reading (non-finite numbers)

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
        """A located problem at ``path`` (its key with ``key=True``)."""
        m = self.mark_for(path, key=key)
        return Located(m.file, m.line, m.col, dotted(path), message, warning)


def dotted(path: Path_) -> str:
    """``("a", "b", 0, "c")`` -> ``a.b[0].c``."""
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")


_SAFE_TAGS = {"tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}


def _error(file: str, m: Any, message: str, path: Path_ = ()) -> SpecError:
    """One located problem at a PyYAML mark (0-based; absent on some of PyYAML's errors)."""
    line, col = (m.line + 1, m.column + 1) if m is not None else (1, 1)
    return SpecError([Located(file, line, col, dotted(path), message)])


class _Loader(yaml.SafeLoader):
    """Composes nodes within a nesting and node budget, then builds plain data and marks from them."""

    def __init__(self, text: str, file: str) -> None:
        super().__init__(text)
        self.file, self.depth, self.composed, self.built = file, 0, 0, 0
        self.doc = LocatedDoc(data=None)
        self.problems: list[Located] = []  # non-finite numbers, all reported at once

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        self.composed += 1
        if self.composed > MAX_NODES:
            raise _error(self.file, event.start_mark, _TOO_MANY)
        if self.depth >= MAX_DEPTH and isinstance(event, yaml.CollectionStartEvent):
            raise _error(self.file, event.start_mark, f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is None or target.end_mark is None:  # undefined, or used inside its own node
                raise _error(self.file, event.start_mark, f"unknown alias *{event.anchor}")
        elif event.anchor is not None:
            self.anchors.pop(event.anchor, None)  # YAML lets a later anchor reuse a name; PyYAML refuses
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        if isinstance(event, yaml.AliasEvent) and node is not None:  # the alias's own position, not its anchor's
            node = copy.copy(node)
            node.start_mark = event.start_mark
        return node

    def mark(self, node: yaml.Node) -> Mark:
        return Mark(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: yaml.Node, path: Path_, depth: int, *, is_key: bool = False) -> Any:
        """Plain data for ``node``, expanding aliases (each expansion counts against the budget)."""
        self.built += 1
        if self.built > MAX_NODES:
            raise _error(self.file, node.start_mark, _TOO_MANY)
        if depth > MAX_DEPTH:  # only reachable through aliases: composing caps the written nesting
            raise _error(self.file, node.start_mark, f"nesting deeper than {MAX_DEPTH} levels", path)
        if node.tag not in _SAFE_TAGS:
            raise _error(self.file, node.start_mark, f"tag {node.tag} is not allowed (specs are plain data)", path)
        if not is_key:
            self.doc.marks[path] = self.mark(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise _error(self.file, key_node.start_mark, "mapping keys must be plain scalars", path)
                key = self.build(key_node, path, depth + 1, is_key=True)
                if key in out:
                    first = self.doc.key_marks[path + (key,)].line
                    raise _error(self.file, key_node.start_mark, f"duplicate key {key!r} (first defined at line {first})", path + (key,))
                self.doc.key_marks[path + (key,)] = self.mark(key_node)
                out[key] = self.build(value_node, path + (key,), depth + 1)
            return out
        if is_key and node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in ("true", "false"):
            return node.value  # as in YAML 1.2, a key spelled on, off, yes or no is that word (evaluate.on)
        kind, shown = node.tag.rsplit(":", 1)[-1], repr(node.value if len(node.value) <= 40 else node.value[:37] + "...")
        if kind == "int" and len(node.value) > MAX_INT_CHARS:
            raise _error(self.file, node.start_mark, f"integer of {len(node.value)} digits is too large", path)
        try:
            value = self.construct_object(node)
        except (yaml.YAMLError, ValueError, KeyError, AttributeError):  # what PyYAML's constructors raise on a value their tag does not fit
            raise _error(self.file, node.start_mark, f"{shown} is not a valid {kind}", path) from None
        if isinstance(value, float) and not math.isfinite(value):  # would pass every bound check, then fail late
            self.problems.append(self.doc.locate(path, f"must be a finite number, got {node.value}"))
        return value


# As in YAML 1.2, ``<<`` (merge) and ``=`` (value) are plain strings, and ``5e-6`` (no dot) is a float.
_Loader.yaml_implicit_resolvers = {
    c: [(tag, rx) for tag, rx in rs if tag not in ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")]
    for c, rs in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def loads(text: str, file: str = "<string>", *, keep_going: bool = False) -> LocatedDoc:
    """Parse one YAML document into a :class:`LocatedDoc`, refusing unsafe input.

    A non-finite number raises, unless ``keep_going``: then it is noted in the
    document's ``problems`` so the spec's other errors are reported with it.
    """
    if len(text.encode("utf-8", "ignore")) > MAX_BYTES:
        raise SpecError([Located(file, 1, 1, "", f"file is larger than {MAX_BYTES // 1024} KB; a spec is a few KB")])
    try:
        loader = _Loader(text, file)
        root = loader.get_node() if loader.check_node() else None
        if loader.check_node():
            raise _error(file, loader.peek_event().start_mark, "only one YAML document is allowed per spec")  # type: ignore[no-untyped-call]
        loader.doc.data = None if root is None else loader.build(root, (), 0)
    except yaml.MarkedYAMLError as exc:
        raise _error(file, exc.problem_mark or exc.context_mark, f"invalid YAML: {exc.problem or exc.context or exc}") from None
    except yaml.reader.ReaderError as exc:  # a control character, e.g. a binary file that happens to be UTF-8
        line = text.count("\n", 0, exc.position)
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1)
        raise SpecError([Located(file, line + 1, col + 1, "", f"invalid YAML: character #x{exc.character:04x} is not allowed (binary data?)")]) from None
    if loader.problems and not keep_going:
        raise SpecError(loader.problems)
    loader.doc.problems = loader.problems
    loader.doc.marks.setdefault((), Mark(file, 1, 1))  # an empty document is located by its file name
    return loader.doc


def _not_a_file(mode: int) -> str | None:
    """What a FIFO, socket or device is called (``None`` for a regular file or a folder, refused elsewhere)."""
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((name for test, name in kinds if test(mode)), None)


def read_text(path: str | os.PathLike[str]) -> str:
    """The text of a spec file, or a :class:`SpecError` located at the file saying why it is not one.

    At most ``MAX_BYTES`` + 1 bytes are read, so a huge file or an endless device is refused quickly.
    """
    shown = str(path)

    def refuse(message: str) -> SpecError:
        return SpecError([Located(shown, 1, 1, "", message)])

    try:
        kind = _not_a_file(os.stat(path).st_mode)
        if kind:  # opening a FIFO would wait for a writer forever; a device is no spec
            raise refuse(f"is {kind}, not a spec file; give a regular YAML file")
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise refuse("file not found") from None
    except IsADirectoryError:
        raise refuse("is a folder, not a YAML file") from None
    except OSError as exc:  # permissions, a symlink loop...
        raise refuse(f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise refuse(f"file is larger than {MAX_BYTES // 1024} KB; a spec is a few KB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def load_file(path: str | os.PathLike[str], *, keep_going: bool = False) -> LocatedDoc:
    """Read (see :func:`read_text`) and parse a YAML file (``keep_going``: see :func:`loads`)."""
    return loads(read_text(path), str(path), keep_going=keep_going)
