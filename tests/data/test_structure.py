"""How the data and spec modules depend on each other: no import cycles, not even
through imports made inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("ferbench/data", "ferbench/spec")


def _module(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the ferbench.data / ferbench.spec modules it imports, anywhere in its code."""
    files = [p for pkg in PACKAGES for p in sorted((REPO / pkg).glob("*.py")) if p.name != "__init__.py"]
    modules = {_module(p) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            deps |= {n for n in names if n in modules}
        graph[_module(path)] = deps - {_module(path)}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first search (each reported once per back edge)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                found.append(stack[stack.index(dep):] + [node, dep] if dep in stack else [node, dep])
            elif dep not in state:
                visit(dep, stack + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_data_and_spec_modules_import_each_other_without_cycles() -> None:
    graph = import_graph()
    assert "ferbench.data.load" in graph and "ferbench.data.layout" in graph["ferbench.data.load"]
    assert cycles(graph) == []
