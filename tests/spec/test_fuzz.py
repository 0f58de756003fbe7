"""Property-based: mutated valid specs give clean results or located errors, never a crash."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferbench.spec import check_file

REPO = Path(__file__).resolve().parents[2]
SPECS = sorted((REPO / "benchmarks").glob("*.yaml"))
LOCATED = re.compile(r"^.+:\d+:\d+: ")

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["", "auto", "cpu", "tpe", "none", "${X}", "${X:-1}", "[", "{a: 1}", "&a", "*a", "!!python/none"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=6)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _mutate(data, path, op, value):
    if not path:
        return value if op == "replace" else data
    parent = data
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "replace":
        parent[last] = value
    elif op == "rename" and isinstance(parent, dict):
        parent[str(value)[:10] + "x"] = parent.pop(last)
    return data


@st.composite
def mutated_spec(draw):
    src = draw(st.sampled_from(SPECS))
    data = yaml.safe_load(src.read_text())
    paths = [p for p in _paths(data) if p]
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["delete", "replace", "replace", "rename"]))
        data = _mutate(data, path, op, draw(values))
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if draw(st.booleans()):  # also damage the text itself
        pos = draw(st.integers(0, max(len(text) - 1, 0)))
        text = text[:pos] + draw(st.sampled_from([":", "- ", "{", "\t", "&a ", "*b", "\n  x: 1\n", "'"])) + text[pos:]
    return src.name, text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=mutated_spec())
def test_mutated_specs_give_clean_results_or_located_errors(tmp_path_factory, case):
    name, text = case
    d = tmp_path_factory.mktemp("fuzz")
    for s in SPECS:  # keep extends targets next to the mutated file
        (d / s.name).write_text(s.read_text())
    (d / name).write_text(text)
    checked = check_file(d / name, env={"FERBENCH_DATA": "/data"})
    if checked.ok:
        assert checked.spec is not None and checked.spec.name
    else:
        assert checked.errors
        for e in checked.errors:
            assert LOCATED.match(str(e)), str(e)
            assert "Traceback" not in str(e) and len(str(e)) < 600
