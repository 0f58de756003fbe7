"""The table of dataset kinds: it agrees with the schema, and everything that used to
keep its own per-kind list reads it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ferbench.data.kinds import BENCHMARK_NAMES, DISPLAY_NAMES, KINDS
from ferbench.spec.schema import subschema
from ferbench.spec.types import SPLITS

REPO = Path(__file__).resolve().parents[2]


def enum(key: str) -> list[Any]:
    """The enum of a dataset key in the spec schema."""
    sub = subschema(("dataset", key))
    assert sub is not None
    return list(sub["enum"])


def test_schema_kind_enum_equals_the_table() -> None:
    # The schema stays the one truth of the spec language; the table must name the same kinds.
    assert enum("kind") == list(KINDS)


def test_schema_layout_enum_equals_the_layouts_of_the_table() -> None:
    from_table = {layout.name for kind in KINDS.values() if kind.needs_path for layout in kind.layouts}
    assert set(enum("layout")) == from_table | {"auto"}


def test_every_layout_has_a_default_for_every_split_and_a_detection() -> None:
    for kind in KINDS.values():
        assert kind.layouts, kind.name
        for layout in kind.layouts:
            assert tuple(layout.splits) == SPLITS, (kind.name, layout.name)
            assert callable(layout.found) and layout.title and layout.looks_for


def test_display_names_cover_kinds_and_other_benchmarks() -> None:
    from ferbench.report.groups import group_title

    for name, display in DISPLAY_NAMES.items():
        assert group_title(name, 7) == f"{display}, 7 classes"
    assert group_title("folder", 7) == "image folders, 7 classes"
    assert not set(BENCHMARK_NAMES) & set(KINDS), "a kind's display name belongs in its row"
    assert group_title("fer2013", 7) == "FER2013, 7 classes" and group_title("ferplus", 8) == "FER+, 8 classes"
    assert group_title("rafdb", 7) == "RAF-DB, 7 classes" and group_title("affectnet", 8) == "AffectNet, 8 classes"


def test_layouts_digits_and_classes_are_read_from_the_table() -> None:
    from ferbench.data.classes import DIGITS, to_vocabulary
    from ferbench.data.layout import LAYOUTS

    assert LAYOUTS == {
        "fer2013": ("csv", "folders"), "affectnet": ("official", "folders"), "folder": ("folders",),
        "rafdb": ("official", "folders"), "expw": ("official",), "ckplus": ("official",), "jaffe": ("official",), "kdef": ("official",),
    }
    assert set(DIGITS) == {"fer2013", "affectnet", "rafdb"}
    # RAF-DB's folder copies count from 1, in RAF-DB's own order.
    assert to_vocabulary("1", "rafdb", {}) == "surprise" and to_vocabulary("7", "rafdb", {}) == "neutral"
    assert to_vocabulary("0", "rafdb", {}) is None
    # FER2013 and AffectNet number their class folders differently.
    assert to_vocabulary("0", "fer2013", {}) == "angry" and to_vocabulary("0", "affectnet", {}) == "neutral"
    assert to_vocabulary("6", "affectnet", {}) == "angry" and to_vocabulary("7", "fer2013", {}) is None
    fer = KINDS["fer2013"]
    assert "contempt" not in fer.known_classes(relabelled=False) and "contempt" in fer.known_classes(relabelled=True)
    assert [k.name for k in KINDS.values() if not k.needs_path] == ["synthetic"]


@pytest.mark.parametrize("module", ["ferbench.data.kinds", "ferbench.spec.checks", "ferbench.spec.loader"])
def test_the_table_is_light_and_importable_first(module: str) -> None:
    # Imported first, in a fresh interpreter: no import cycle, and no numpy or TensorFlow
    # (validating a spec reads the table).
    code = f"import sys, {module}; print(sorted(m for m in ('numpy', 'tensorflow', 'PIL') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_package_exports_load_on_first_use() -> None:
    import ferbench.data
    import ferbench.spec

    for package in (ferbench.data, ferbench.spec):
        for name in package.__all__:
            assert getattr(package, name) is not None
        with pytest.raises(AttributeError):
            package.no_such_name  # noqa: B018
