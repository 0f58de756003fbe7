"""Spec authoring in a real editor: Red Hat's yaml-language-server (the npm package every
YAML editor plugin is built on) driven over LSP against the schema the specs name in
their ``$schema`` modeline. No false red marks on correct specs, planted mistakes flagged
at their line, hover text on every property. Skipped, saying why, where node or the
server is absent (.ci/run installs both)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from yamlls import YamlLanguageServer, find_server

from ferbench.cli.main import TEMPLATES, main
from ferbench.model.registry import ARCHS
from ferbench.spec import check_file
from ferbench.spec.schema import load_schema

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "spec.schema.json"
SHIPPED = sorted(REPO.glob("benchmarks/**/*.yaml")) + sorted(REPO.glob("ferbench/templates/*.yaml"))
MODELINE = "# yaml-language-server: $schema="

GOOD = """\
ferbench: 1
name: t
dataset:
  kind: synthetic
  image_size: 32
  color: grayscale
augment: {flip: horizontal}
model:
  arch: efficientnetv2-s
  stages: [0, 1, 2]
  dropout: 0.2
train:
  batch_size: 32
  max_epochs: 2
search:
  trials: 3
  pruner: {name: none}
  space:
    width: {float: [0.2, 1.4], step: 0.05}
    learning_rate: {float: [1.0e-4, 1.0e-2], log: true}
matrix:
  loss.class_weight: [none, inverse_frequency]
"""

#: (mistake, text replaced, replacement, 1-based line the editor must flag). The last six
#: were caught by validate's semantic checks only; the schema now says five of them.
MISTAKES = [
    ("unknown dataset kind", "kind: synthetic", "kind: synthetc", 4),
    ("misspelt key", "  image_size: 32", "  image_sise: 32", 5),
    ("wrong type", "trials: 3", "trials: three", 16),
    ("wrong version", "ferbench: 1", "ferbench: 2", 1),
    ("below minimum", "image_size: 32", "image_size: 8", 5),
    ("unknown flip", "flip: horizontal", "flip: vertical", 7),
    ("unknown arch", "arch: efficientnetv2-s", "arch: efficientnetv2-x", 9),
    ("unknown pruner", "name: none}", "name: medain}", 17),
    ("negative batch size", "batch_size: 32", "batch_size: -1", 13),
    ("bad name", "name: t", "name: 'my run!'", 2),
    ("unknown colour", "color: grayscale", "color: rgbb", 6),
    ("unknown section", "train:", "trian:", 12),
    ("misspelt matrix key", "loss.class_weight:", "loss.class_wieght:", 22),
    ("depth on a family without one", "arch: efficientnetv2-s", "arch: resnet18\n  depth: 0.5", 10),
    ("stages not a prefix", "stages: [0, 1, 2]", "stages: [1, 2]", 10),
    ("fixed and searched", "  dropout: 0.2", "  dropout: 0.2\n  width: 0.5", 12),
    ("not a number", "dropout: 0.2", "dropout: .nan", 11),
]
#: What JSON Schema cannot say (it compares no two values): validate's alone.
VALIDATE_ONLY = [("low > high", "[0.2, 1.4], step", "[1.4, 0.2], step", 19)]


@pytest.fixture(scope="module")
def server() -> Iterator[YamlLanguageServer]:
    cmd, why = find_server()
    if cmd is None:
        pytest.skip(why)
    ls = YamlLanguageServer(cmd, REPO)
    yield ls
    ls.shutdown()


def errors(ls: YamlLanguageServer, path: Path) -> list[tuple[int, str]]:
    """The server's problems (errors and warnings) in a file: (1-based line, message)."""
    return [(d["range"]["start"]["line"] + 1, d["message"]) for d in ls.diagnostics(path) if d.get("severity", 1) <= 2]


def modeline_target(spec: Path) -> Path:
    """The file a spec's ``$schema`` modeline names, resolved as the language server does."""
    first = spec.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MODELINE), first
    ref = first[len(MODELINE):]
    if ref.startswith("file://"):
        return Path(unquote(urlparse(ref).path)).resolve()
    return (spec.parent / ref).resolve()


def with_modeline(tmp: Path, name: str, body: str) -> Path:
    path = tmp / name
    path.write_text(f"{MODELINE}{SCHEMA.as_uri()}\n{body}", encoding="utf-8")
    return path


def test_every_shipped_spec_names_the_schema_and_has_no_diagnostics(server: YamlLanguageServer) -> None:
    assert len(SHIPPED) >= 20
    for path in SHIPPED:
        assert modeline_target(path) == SCHEMA.resolve(), path.relative_to(REPO)
    found = {str(p.relative_to(REPO)): errors(server, p) for p in SHIPPED}
    assert {k: v for k, v in found.items() if v} == {}
    assert any("extends:" in p.read_text() for p in SHIPPED)  # the specs that used to be marked "Missing property"


def test_fresh_specs_of_every_template_have_no_diagnostics(server: YamlLanguageServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for template in TEMPLATES:
        assert main(["new", f"fresh_{template}", "--from", template]) == 0
        path = tmp_path / f"fresh_{template}.yaml"
        assert modeline_target(path) == SCHEMA.resolve()
        assert errors(server, path) == [], template


def test_env_values_and_extends_are_not_marked(server: YamlLanguageServer, tmp_path: Path) -> None:
    base = with_modeline(tmp_path, "base.yaml", GOOD)
    child = with_modeline(tmp_path, "child.yaml", "ferbench: 1\nextends: base.yaml\nname: child\ndataset: {image_size: 48}\n"
                          "train:\n  batch_size: ${BS:-64}\n  max_epochs: ${EPOCHS}\naugment:\n  enabled: ${AUG:-true}\n  flip: ${FLIP:-none}\n"
                          "model:\n  arch: ${ARCH:-efficientnetv2-b0}\n  dropout: ${DROP:-0.3}\n")
    assert errors(server, base) == [] and errors(server, child) == []
    assert check_file(child, env={"EPOCHS": "3"}).ok


@pytest.mark.parametrize("what, old, new, line", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_flagged_at_its_line(server: YamlLanguageServer, tmp_path: Path, what: str, old: str, new: str, line: int) -> None:
    assert old in GOOD
    path = with_modeline(tmp_path, "s.yaml", GOOD.replace(old, new, 1))
    found = [(n - 1, msg) for n, msg in errors(server, path)]  # the modeline is line 1
    assert [n for n, _ in found] == [line], found
    bare = tmp_path / "bare.yaml"
    bare.write_text(GOOD.replace(old, new, 1))
    assert not check_file(bare).ok  # validate refuses it too


@pytest.mark.parametrize("what, old, new, line", VALIDATE_ONLY, ids=[m[0] for m in VALIDATE_ONLY])
def test_what_the_schema_cannot_say_stays_with_validate(server: YamlLanguageServer, tmp_path: Path, what: str, old: str, new: str, line: int) -> None:
    path = with_modeline(tmp_path, "s.yaml", GOOD.replace(old, new, 1))
    assert errors(server, path) == []
    (tmp_path / "bare.yaml").write_text(GOOD.replace(old, new, 1))
    assert [e.line for e in check_file(tmp_path / "bare.yaml").errors] == [line]


def _deref(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and node["$ref"] != "#/$defs/finite":
        node = {**root["$defs"][node["$ref"].split("/")[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def property_paths(root: dict[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """Every property of the spec language (mappings written in place), with its description."""
    out: list[tuple[tuple[str, ...], str]] = []

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
        node = _deref(node, root)
        for b in node.get("oneOf", []) + node.get("anyOf", []):
            if isinstance(b, dict) and "properties" in _deref(b, root):
                walk(b, path)
        for key, sub in node.get("properties", {}).items():
            out.append((path + (key,), str(_deref(sub, root).get("description", ""))))
            walk(sub, path + (key,))
        for pattern, sub in node.get("patternProperties", {}).items():
            key = pattern.strip("^$")
            out.append((path + (key,), str(sub.get("description", ""))))

    walk(root, ())
    return out


def test_hover_explains_every_property(server: YamlLanguageServer, tmp_path: Path) -> None:
    root = load_schema()
    paths = property_paths(root)
    assert len(paths) > 150
    missing = []
    for i, (path, description) in enumerate(paths):
        assert description, f"{'.'.join(path)} has no description"
        if path[:2] == ("evaluate", "on") and len(path) > 2:  # a list of mappings: the item's keys are written as - key:
            lines = [f"{'  ' * n}{k}:" for n, k in enumerate(path[:2])] + [f"    - {path[2]}:"] + [f"{'  ' * (n + 3)}{k}:" for n, k in enumerate(path[3:])]
        else:
            lines = [f"{'  ' * n}{k}:" for n, k in enumerate(path)]
        doc = with_modeline(tmp_path, f"h{i}.yaml", "\n".join(lines) + " x\n")  # a key without a value has no hover
        uri = server.open(doc)
        last = lines[-1]
        text = server.hover(uri, len(lines), len(last) - len(path[-1]) - 1 + 1)
        server.close(uri)
        if description.split("`")[0][:30].strip() not in text.replace("\\", ""):
            missing.append(".".join(path))
    assert missing == [], json.dumps(missing)


def test_completion_offers_every_architecture_with_its_size_and_every_matrix_key(server: YamlLanguageServer, tmp_path: Path) -> None:
    def complete(name: str, body: str, line: int, col: int) -> dict[str, str]:
        uri = server.open(with_modeline(tmp_path, name, body))
        res = server.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": line, "character": col}})
        server.close(uri)
        items = res["items"] if isinstance(res, dict) else res
        return {i["label"]: str(i.get("documentation", "")) for i in items}

    archs = complete("a.yaml", "model:\n  arch: \n", 2, 8)
    assert set(archs) == set(ARCHS)
    assert "58,423 parameters" in archs["mini-xception"]
    keys = complete("m.yaml", "matrix:\n  \n", 2, 2)
    assert {"model", "loss.class_weight", "train.batch_size", "dataset.image_size"} <= set(keys)
    assert keys["loss.class_weight"].startswith("One run per value of `loss.class_weight`: none, inverse_frequency")
