"""model.bn_momentum in a spec: typed, range-checked by the schema, refused for a custom builder, absent by default."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ferbench.spec import check_file, load_spec

BASE = """\
ferbench: 1
name: t
dataset:
  kind: synthetic
  image_size: 32
model:
  arch: mobilenetv3-small
train:
  max_epochs: 3
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "s.yaml").write_text(textwrap.dedent(text))
    return Path("s.yaml")


def test_absent_by_default_and_typed_when_given(tmp_path: Path) -> None:
    assert load_spec(_write(tmp_path, BASE)).model.bn_momentum is None  # the family's own, capped per trial
    spec = load_spec(_write(tmp_path, BASE.replace("arch: mobilenetv3-small", "arch: mobilenetv3-small\n  bn_momentum: 0.95")))
    assert spec.model.bn_momentum == 0.95


@pytest.mark.parametrize("value", ["1.0", "-0.1"])
def test_out_of_range_is_refused(tmp_path: Path, value: str) -> None:
    checked = check_file(_write(tmp_path, BASE.replace("arch: mobilenetv3-small", f"arch: mobilenetv3-small\n  bn_momentum: {value}")))
    assert [str(e) for e in checked.errors if "model.bn_momentum" in str(e)], [str(e) for e in checked.errors]


def test_a_custom_builder_keeps_its_own(tmp_path: Path) -> None:
    text = BASE.replace("arch: mobilenetv3-small", 'arch: custom\n  builder: "my.models:build"\n  bn_momentum: 0.9')
    errors = [str(e) for e in check_file(_write(tmp_path, text)).errors]
    assert errors == ["s.yaml:9:16: model.bn_momentum: a custom builder's batch norms are its own; set their momentum in the builder "
                      "and remove model.bn_momentum"]
