"""The one table of the training recipe (ferbench.spec.recipes) against the schema, the searchable keys,
the defaults filled into a resolved spec and the checks that read it."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ferbench.spec import check_file, load_spec
from ferbench.spec.recipes import OPTIMIZERS, RECIPES, SCHEDULES, WARMUP, searchable
from ferbench.spec.types import SEARCHABLE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return dict(json.loads((ROOT / "schemas" / "spec.schema.json").read_text(encoding="utf-8")))


def _node(schema: dict[str, Any], dotted: str) -> dict[str, Any]:
    """The schema of a dotted spec key, following ``$ref`` and ``anyOf``'s object branch."""
    node: dict[str, Any] = schema
    for part in dotted.split("."):
        node = node["properties"][part] if node is not schema else schema["properties"][part]
        while "$ref" in node and "properties" not in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        if "properties" not in node:
            node = next((b for b in node.get("anyOf", []) if "properties" in b), node)
    return node


def _enum(node: dict[str, Any]) -> list[str]:
    return next(b["enum"] for b in node["anyOf"] if "enum" in b)


def test_the_schemas_optimizers_and_schedules_are_the_tables(schema: dict[str, Any]) -> None:
    train = _node(schema, "train")
    assert set(_enum(train["properties"]["optimizer"])) == set(OPTIMIZERS)
    sched = _node(schema, "train.schedule")
    assert set(_enum(sched["properties"]["name"])) == set(SCHEDULES)
    for row in OPTIMIZERS.values():
        assert {v.key for v in row.values} <= set(train["properties"]), row.name
    for row in SCHEDULES.values():
        assert {v.key for v in row.values} <= set(sched["properties"]), row.name
    assert WARMUP.key in sched["properties"]
    # Every optimizer or schedule key of the schema is some row's (none is left to a hand-written list).
    table_keys = {v.key for r in (*OPTIMIZERS.values(), *SCHEDULES.values()) for v in r.values} | {WARMUP.key}
    assert set(sched["properties"]) - {"name"} == table_keys & set(sched["properties"])


@pytest.mark.parametrize("block", list(RECIPES))
def test_each_recipe_block_of_the_schema_has_the_tables_keys_and_states_its_defaults(schema: dict[str, Any], block: str) -> None:
    row = RECIPES[block]
    props = _node(schema, block)["properties"]
    assert set(props) == {v.key for v in row.values}
    for v in row.values:
        text = props[v.key]["description"]
        if v.default is not None:
            shown = re.search(r"default (\[[^\]]*\]|[0-9.]+)", text)
            assert shown, f"{block}.{v.key}: the description states no default"
            want = json.loads(shown.group(1))
            assert want == pytest.approx(list(v.default) if isinstance(v.default, tuple) else v.default, rel=2e-3), f"{block}.{v.key}"
        if v.searchable:
            assert f"searchable as {v.name}" in text, f"{block}.{v.key}"


def test_the_searchable_keys_and_the_schemas_search_space_are_the_tables(schema: dict[str, Any]) -> None:
    names = _node(schema, "search")["properties"]["space"]["propertyNames"]["enum"]
    for name, key in searchable().items():
        assert SEARCHABLE[name] == key and name in names


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


BASE = """\
ferbench: 1
name: t
dataset: {kind: synthetic, image_size: 32}
"""


def test_a_recipe_block_resolves_to_the_tables_defaults_and_a_searched_value_stays_open(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, BASE + "augment: {mixup: {}, cutmix: {prob: 0.5}, random_erasing: {}}\n"
                                             "train: {ema: {}, distill: {teacher: t.keras}}\n"
                                             "search: {space: {mixup_alpha: {float: [0.1, 0.4]}}}\n"))
    aug, tr = spec.augment, spec.train
    assert aug.mixup is not None and aug.mixup.alpha is None and aug.mixup.prob == RECIPES["augment.mixup"].defaults["prob"]
    assert aug.cutmix is not None and (aug.cutmix.alpha, aug.cutmix.prob) == (1.0, 0.5)
    assert aug.random_erasing is not None and aug.random_erasing.area == pytest.approx((0.02, 1 / 3))
    assert tr.ema is not None and tr.ema.decay == 0.999
    assert tr.distill is not None and (tr.distill.teacher, tr.distill.temperature, tr.distill.alpha) == ("t.keras", 4.0, 0.5)
    assert spec.raw["augment"]["mixup"] == {"prob": 1.0}  # the resolved spec states every default, not the searched one
    off = load_spec(_write(tmp_path, BASE))
    assert off.augment.mixup is None and off.train.ema is None and off.train.distill is None


def test_searching_a_recipe_that_is_off_is_an_error_saying_how_to_turn_it_on(tmp_path: Path) -> None:
    errors = [str(e) for e in check_file(_write(tmp_path, BASE + "search: {space: {ema_decay: {float: [0.99, 0.9999]}}}\n"), []).errors]
    assert any("search.space.ema_decay" in e and "ema is off" in e and "train: {ema: {}}" in e for e in errors), errors


def test_a_value_the_optimizer_does_not_have_is_flagged_from_the_table(tmp_path: Path) -> None:
    result = check_file(_write(tmp_path, BASE + "train: {optimizer: adamw, momentum: 0.9}\n"), [])
    assert any("train.momentum" in str(w) and "optimizer adamw does not use it" in str(w) for w in result.warnings)


def test_the_teacher_is_checked_a_keras_file_or_a_run_folder(tmp_path: Path) -> None:
    def problems(teacher: str) -> tuple[list[str], list[str]]:
        r = check_file(_write(tmp_path, BASE + f"train: {{distill: {{teacher: '{teacher}'}}}}\n"), [])
        return [str(e) for e in r.errors], [str(w) for w in r.warnings]

    errors, _ = problems(str(tmp_path / "teacher.h5"))
    assert any("train.distill.teacher" in e and "a .keras file or a run folder" in e for e in errors), errors
    errors, warnings = problems(str(tmp_path / "teacher.keras"))
    assert not errors and any("does not exist (yet)" in w for w in warnings)
    (tmp_path / "run" / "best").mkdir(parents=True)
    errors, warnings = problems(str(tmp_path / "run"))
    assert not errors and any("holds no best/model.keras" in w for w in warnings)
    (tmp_path / "run" / "best" / "model.keras").write_bytes(b"")
    errors, warnings = problems(str(tmp_path / "run"))
    assert not errors and not [w for w in warnings if "teacher" in w]


@pytest.mark.parametrize("mode", ["probability", "crossentropy"])
def test_validate_refuses_distillation_from_labels_drawn_each_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: str) -> None:
    from ferbench.cli.main import main

    teacher = tmp_path / "teacher.keras"
    teacher.write_bytes(b"")
    spec = _write(tmp_path, f"""\
        ferbench: 1
        name: t
        dataset: {{kind: fer2013, path: fer2013.csv, labels: fer2013new.csv, labels_mode: {mode}}}
        train: {{distill: {{teacher: '{teacher}'}}}}
        """)
    code = main(["validate", str(spec)])
    err = [line for line in capsys.readouterr().err.splitlines() if "spec(s) invalid" not in line and line.strip()]
    if mode == "crossentropy":  # a fixed soft target per image: the teacher's predictions mix with it
        assert code == 0 and not [e for e in err if "distill" in e], err
        return
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith(f"{spec}:3:") and ": dataset.labels_mode: " in err[0], err
    assert "train.distill does not take dataset.labels_mode: probability" in err[0]
    assert "use majority, crossentropy or multi_target, or turn train.distill off" in err[0]


def test_swa_resolves_to_the_tables_default_is_recorded_and_refused_beside_ema_or_freeze(tmp_path: Path) -> None:
    from ferbench.run.train.recipe import recipe_values

    spec = load_spec(_write(tmp_path, BASE + "train: {max_epochs: 8, swa: {}}\n"))
    assert spec.train.swa is not None and spec.train.swa.epochs == 3
    assert recipe_values(spec, {})["swa_epochs"] == 3
    assert "swa_epochs" not in recipe_values(load_spec(_write(tmp_path, BASE)), {})  # off: nothing recorded
    for other in ("ema: {}", "freeze: {epochs: 1, learning_rate: 1.0e-5}"):
        r = check_file(_write(tmp_path, BASE + f"train: {{max_epochs: 8, swa: {{}}, {other}}}\n"), [])
        assert any(str(e).startswith(f"{tmp_path / 's.yaml'}:4:") and "train.swa does not go with train." + other.split(":")[0] in str(e)
                   for e in r.errors), r.errors
    r = check_file(_write(tmp_path, BASE + "train: {max_epochs: 2, swa: {epochs: 5}}\n"), [])
    assert not r.errors and any("every epoch is averaged" in str(w) for w in r.warnings)
