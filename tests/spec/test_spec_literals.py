"""The typed spec's enumerated fields and the JSON Schema's enums say the same thing."""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from ferbench.spec import search_types as st
from ferbench.spec import types as t
from ferbench.spec.schema_env import strip_env

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "spec.schema.json").read_text(encoding="utf-8"))

#: (typed dataclass, field) -> where the schema lists its values (a JSON pointer into $defs).
FIELDS: dict[tuple[type, str], str] = {
    (t.DerivedSplit, "source"): "split/oneOf/1/properties/from",
    (t.DatasetSpec, "kind"): "dataset/properties/kind",
    (t.DatasetSpec, "layout"): "dataset/properties/layout",
    (t.DatasetSpec, "color"): "dataset/properties/color",
    (t.DatasetSpec, "on_bad_sample"): "dataset/properties/on_bad_sample",
    (t.FacesSpec, "detector"): "dataset/properties/faces/properties/detector",
    (t.FacesSpec, "align"): "dataset/properties/faces/properties/align",
    (t.FacesSpec, "on_none"): "dataset/properties/faces/properties/on_none",
    (t.FacesSpec, "on_many"): "dataset/properties/faces/properties/on_many",
    (t.DatasetSpec, "labels_mode"): "dataset/properties/labels_mode",
    (t.DatasetSpec, "exclude_near_duplicates"): "dataset/properties/exclude_near_duplicates",
    (t.DatasetSpec, "folds_by"): "dataset/properties/folds/oneOf/1/properties/by",
    (t.AugmentSpec, "flip"): "augment/properties/flip",
    (t.LossSpec, "class_weight"): "loss/properties/class_weight",
    (t.EarlyStopping, "monitor"): "train/properties/early_stopping/oneOf/1/properties/monitor",
    (t.ScheduleSpec, "name"): "schedule/properties/name",
    (t.ScheduleSpec, "monitor"): "schedule/properties/monitor",
    (t.TrainSpec, "optimizer"): "train/properties/optimizer",
    (st.SamplerSpec, "name"): "search/properties/sampler/properties/name",
    (st.PrunerSpec, "name"): "search/properties/pruner/properties/name",
    (st.SearchSpec, "metric"): "search/properties/objective/properties/metric",
    (st.SearchSpec, "direction"): "search/properties/objective/properties/direction",
    (st.ObjectiveSpec, "metric"): "search/properties/objectives/items/properties/metric",
    (st.ObjectiveSpec, "direction"): "search/properties/objectives/items/properties/direction",
    (st.ConstraintSpec, "metric"): "search/properties/constraints",
    (t.CrossSetSpec, "split"): "crossSet/properties/split",
    (t.EvaluateSpec, "tta"): "evaluate/properties/tta",
    (t.EvaluateSpec, "calibrate"): "evaluate/properties/calibrate",
    (t.RuntimeSpec, "devices"): "runtime/properties/devices/oneOf/0",
    (t.RuntimeSpec, "precision"): "runtime/properties/precision",
    (t.RuntimeSpec, "jit_compile"): "runtime/properties/jit_compile",
}


def _schema_values(pointer: str) -> set[Any]:
    node: Any = SCHEMA["$defs"]
    for part in pointer.split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
        node = strip_env(node) if isinstance(node, dict) else node  # the values as written, without the ${NAME} alternative
    if "enum" in node:
        return set(node["enum"])
    if "properties" in node:  # an object whose keys are the enumeration
        return set(node["properties"])
    raise AssertionError(f"$defs/{pointer} lists no values")


def _literal_values(tp: Any) -> set[Any]:
    """Every value a type admits through its Literal parts (bool counts as True and False)."""
    if tp is bool:
        return {True, False}
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return set(typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        out: set[Any] = set()
        for arg in typing.get_args(tp):
            out |= _literal_values(arg)
        return out
    return set()


@pytest.mark.parametrize(("owner", "name"), list(FIELDS), ids=[f"{c.__name__}.{n}" for c, n in FIELDS])
def test_typed_field_admits_exactly_the_schema_values(owner: type, name: str) -> None:
    hints = typing.get_type_hints(owner, vars(sys.modules[owner.__module__]))
    assert _literal_values(hints[name]) == _schema_values(FIELDS[(owner, name)])


def test_every_enum_of_the_schema_is_covered_or_deliberately_left_out() -> None:
    """A new enum in the schema gets a Literal field here (or a reason to stay a plain value)."""
    covered = {f"$defs/{p}" for p in FIELDS.values()}
    elsewhere = {
        "$defs/className": "class names are data (CLASS_VOCABULARY), kept as str",
        "$defs/dataset/properties/classes/oneOf/1": "classes: 7 | 8 is spelled out as the class names before the typed spec is built",
        "$defs/dataset/properties/synthetic/properties/imbalance/oneOf/0": "a named distribution or a tuple of weights",
        "$defs/model/properties/arch": "the model registry is the one list of families (checked by tests/model)",
        "$defs/search/properties/space/propertyNames": "SEARCHABLE's keys",
        "$defs/evaluate/properties/robustness/properties/corruptions/items":
            "a tuple of CorruptionName; the corruption table, the Literal and the schema are compared by tests/data/test_corruptions.py",
    }
    found: set[str] = set()

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            node = strip_env(node)
            if "enum" in node:
                found.add(path)
            for k, v in node.items():
                walk(v, f"{path}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}/{i}")

    walk(SCHEMA["$defs"], "$defs")
    assert found - covered - set(elsewhere) == set()


def test_searchable_keys_are_the_schema_space_names() -> None:
    assert set(t.SEARCHABLE) == _schema_values("search/properties/space/propertyNames")
