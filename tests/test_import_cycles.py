"""No import cycles anywhere in ferbench, not even through imports made inside functions.

A lazy import inside a function hides a cycle from Python but not from a reader:
the two modules still depend on each other. Every ``import`` and ``from ... import``
of a ferbench module counts, wherever it stands (``TYPE_CHECKING`` blocks included).
"""

from __future__ import annotations

import ast
from pathlib import Path

import ferbench

PKG = Path(ferbench.__file__).resolve().parent


def _name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the ferbench modules it imports (a package's ``__init__`` is the package's name)."""
    files = sorted(PKG.rglob("*.py"))
    modules = {_name(p) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        me = _name(path)
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:  # `from pkg import module` depends on the module, else on pkg
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        graph[me] = {d for d in deps if d in modules and d != me}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or ``None``."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [node, dep] if dep in stack else [node, dep]
            if dep not in state:
                found = visit(dep, stack + [node])
                if found:
                    return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def test_the_graph_sees_lazy_imports() -> None:
    graph = import_graph()
    # ferbench.run.session imports the trial set-up inside a method: that edge is seen.
    assert "ferbench.run.train.setup" in graph["ferbench.run.session"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_module_of_ferbench_is_part_of_an_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
