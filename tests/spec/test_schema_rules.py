"""The spec schema as an editor reads it: current with its generator, every property
described, every value of the main enums explained, and never stricter than validate."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import schema_agreement
from schema_agreement import disagreement, editor_problems

from ferbench.cli.main import TEMPLATES, main
from ferbench.model.registry import FAMILIES, family_cost
from ferbench.spec import check_file
from ferbench.spec.schema import load_schema, subschema, validation_schema
from ferbench.spec.schema_rules import COST_CLASSES, COST_INPUT, render

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(REPO.glob("benchmarks/**/*.yaml")) + sorted(REPO.glob("ferbench/templates/*.yaml"))


def test_the_schema_file_is_what_its_generator_writes() -> None:
    from ferbench.spec.schema_rules import main as regenerate

    assert regenerate(["--check"]) == 0, "run python -m ferbench.spec.schema_rules"
    assert render(load_schema()) == load_schema()  # rewriting it again changes nothing


def _properties(node: Any, path: str, out: dict[str, dict[str, Any]]) -> None:
    """Every property schema in the file, by a readable path (generated rules included)."""
    if isinstance(node, list):
        for i, n in enumerate(node):
            _properties(n, f"{path}[{i}]", out)
        return
    if not isinstance(node, dict):
        return
    for key, sub in node.items():
        if key in ("properties", "patternProperties") and isinstance(sub, dict):
            for name, prop in sub.items():
                if isinstance(prop, dict):
                    out[f"{path}.{name}"] = prop
                _properties(prop, f"{path}.{name}", out)
        elif isinstance(sub, (dict, list)):
            _properties(sub, f"{path}/{key}" if path else key, out)


def test_every_property_has_a_description_and_a_markdown_description() -> None:
    root = load_schema()
    props: dict[str, dict[str, Any]] = {}
    _properties({k: v for k, v in root.items() if k not in ("allOf", "if", "then")}, "", props)  # rules, not keys
    assert len(props) > 150  # property schemas as written (a $defs entry once, wherever it is used)
    bare = []
    for path, prop in props.items():
        target = prop
        if "$ref" in prop and "description" not in prop:  # the description lives with the definition
            target = root["$defs"][prop["$ref"].split("/")[-1]]
        if not target.get("description") or not target.get("markdownDescription"):
            bare.append(path)
    assert bare == []


@pytest.mark.parametrize("path", [("model", "arch"), ("dataset", "kind"), ("search", "sampler", "name"), ("search", "pruner", "name"),
                                  ("train", "schedule", "name"), ("train", "optimizer"), ("loss", "class_weight"), ("evaluate", "tta"),
                                  ("dataset", "color"), ("dataset", "layout"), ("runtime", "precision"), ("search", "objective", "metric"),
                                  ("dataset", "on_bad_sample"), ("augment", "flip")])
def test_every_value_of_the_main_enums_is_described(path: tuple[str, ...]) -> None:
    node = subschema(path)
    assert node is not None
    assert len(node["enumDescriptions"]) == len(node["enum"]) and all(len(d) > 10 for d in node["enumDescriptions"])
    for value, meaning in zip(node["enum"], node["enumDescriptions"]):
        assert f"`{value}`: {meaning}" in node["markdownDescription"]


def test_each_architecture_says_its_size_from_the_cost_model() -> None:
    node = subschema(("model", "arch"))
    assert node is not None
    meanings = dict(zip(node["enum"], node["enumDescriptions"]))
    for name, fam in FAMILIES.items():
        cost = family_cost(fam.config(), COST_INPUT, COST_CLASSES)
        assert f"{cost.params:,} parameters" in meanings[name] and f"{cost.macs / 1e6:,.1f} M MACs" in meanings[name]
    assert "58,423 parameters" in meanings["mini-xception"]  # Arriaga et al.'s published count


def test_validate_leaves_the_generated_rules_to_its_semantic_checks() -> None:
    full, plain = load_schema(), validation_schema()
    assert len(full["allOf"]) > len(FAMILIES) and "allOf" not in plain or len(plain["allOf"]) < len(full["allOf"])


def test_shipped_and_new_specs_pass_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in SHIPPED:
        if "templates" not in path.parts:
            assert check_file(path, env={"FERBENCH_DATA": "data"}).ok, path
        assert editor_problems(path) == [], path
    monkeypatch.chdir(tmp_path)
    for template in TEMPLATES:
        assert main(["new", f"n_{template}", "--from", template]) == 0
        assert editor_problems(tmp_path / f"n_{template}.yaml") == []


def test_the_agreement_check_catches_a_schema_stricter_than_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonschema

    spec = REPO / "benchmarks" / "quickstart.yaml"
    assert disagreement(spec, True) is None
    strict = {**load_schema(), "required": ["ferbench", "name", "seeds"]}
    monkeypatch.setattr(schema_agreement, "_editor_validator", lambda: jsonschema.Draft202012Validator(strict))
    assert "seeds" in str(disagreement(spec, True))
    assert disagreement(spec, False) is None  # a spec validate refuses may pass the schema (low > high)


def test_the_generated_matrix_keys_are_the_paths_validate_accepts() -> None:
    rule = next(r for r in load_schema()["allOf"] if "matrix" in r.get("properties", {}))
    keys = set(rule["properties"]["matrix"]["properties"])
    assert {"loss.class_weight", "model", "model.arch", "train.batch_size", "dataset.image_size"} <= keys
    for key in keys - {"model"}:
        assert subschema(tuple(key.split("."))) is not None, key
    assert json.dumps(sorted(keys)).count("matrix") == 0 and "name" not in keys


def test_a_markdown_description_written_by_hand_is_kept() -> None:
    schema = copy.deepcopy(load_schema())
    augment = schema["$defs"]["augment"]["properties"]
    augment["zoom"]["markdownDescription"] = "Zoom in or out, *by hand*."
    augment["translate"].pop("markdownDescription")
    out = render(schema)["$defs"]["augment"]["properties"]
    assert out["zoom"]["markdownDescription"] == "Zoom in or out, *by hand*."
    assert out["translate"]["markdownDescription"] == "Maximum shift as a fraction of the image size.\n\nDefault: `0.1`."


def test_an_enum_with_a_value_left_undescribed_is_refused() -> None:
    schema = copy.deepcopy(load_schema())
    kind = schema["$defs"]["dataset"]["properties"]["kind"]["anyOf"][0]
    kind["enum"] = [*kind["enum"], "sfew"]
    n = len(kind["enum"])
    with pytest.raises(SystemExit, match=f"kind: {n} enum values but {n - 1} enumDescriptions"):
        render(schema)


def test_the_suite_holds_every_spec_it_validates_to_the_schema(schema_agreement_log: list[str], tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonschema

    spec = tmp_path / "s.yaml"
    spec.write_text((REPO / "benchmarks" / "quickstart.yaml").read_text())
    assert check_file(spec).ok and schema_agreement_log == []
    strict = {**load_schema(), "required": ["ferbench", "name", "seeds"]}
    monkeypatch.setattr(schema_agreement, "_editor_validator", lambda: jsonschema.Draft202012Validator(strict))
    assert check_file(spec).ok
    assert len(schema_agreement_log) == 1 and "seeds" in schema_agreement_log[0]
    assert check_file(spec, ["seed=3"]).ok and len(schema_agreement_log) == 1  # with --set: not the file an editor sees
    schema_agreement_log.clear()  # (the planted disagreement would fail this test)
