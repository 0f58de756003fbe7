"""Specs over the model zoo: each family's defaults, one located error per mistake, matrices and searches over architectures."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ferbench.model.registry import ARCHS
from ferbench.plan import plan_spec
from ferbench.spec import check_file, load_spec
from ferbench.spec.schema import subschema

BASE = """\
ferbench: 1
name: t
dataset:
  kind: synthetic
  image_size: 32
model:
  arch: mini-xception
train:
  max_epochs: 3
search:
  trials: 3
  space:
    learning_rate: {float: [1.0e-4, 1.0e-2], log: true}
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # error lines show paths as given: s.yaml:LINE:COL


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "s.yaml").write_text(textwrap.dedent(text))
    return Path("s.yaml")


def problems(tmp_path: Path, text: str) -> tuple[list[str], list[str]]:
    checked = check_file(write(tmp_path, text))
    return [str(e) for e in checked.errors], [str(w) for w in checked.warnings]


@pytest.mark.parametrize("arch,expected", [
    ("mini-xception", dict(stages=(0, 1, 2, 3, 4), width=None, depth=None, dropout=None, top_filters=None, drop_connect=None)),
    ("mobilenetv3-small", dict(stages=(0, 1, 2, 3, 4, 5), width=1.0, depth=None, dropout=0.2, top_filters=None, drop_connect=None)),
    ("efficientnetv2-b3", dict(stages=tuple(range(7)), width=1.2, depth=1.4, dropout=0.3, top_filters=1280, drop_connect=0.2)),
    ("efficientnetv2-l", dict(stages=tuple(range(8)), width=1.0, depth=1.0, dropout=0.4, top_filters=1280, drop_connect=0.2)),
    ("vggnet-khaireddin", dict(stages=(0, 1, 2, 3), width=1.0, depth=None, dropout=0.2, top_filters=4096, drop_connect=None)),
])
def test_a_family_resolves_to_its_own_defaults(tmp_path: Path, arch: str, expected: dict) -> None:
    spec = load_spec(write(tmp_path, BASE.replace("arch: mini-xception", f"arch: {arch}")))
    assert {k: getattr(spec.model, k) for k in expected} == expected
    assert spec.raw["model"]["arch"] == arch and "depth" not in spec.raw["model"] or expected["depth"] is not None


def test_the_default_architecture_is_efficientnetv2_s(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, BASE.replace("  arch: mini-xception\n", "  stages: [0, 1]\n")))
    assert (spec.model.arch, spec.model.stages, spec.model.width, spec.model.top_filters) == ("efficientnetv2-s", (0, 1), 1.0, 1280)
    assert spec.model.weights == "none" and spec.train.freeze is None


@pytest.mark.parametrize("edit,expected", [
    (("arch: mini-xception", "arch: mini-xception\n  width: 0.5"),
     "s.yaml:8:10: model.width: mini-xception has no width (width multiplier of every stage's channels); it takes none of them; remove model.width"),
    (("    learning_rate", "    depth: {float: [0.2, 1.0]}\n    learning_rate"),
     "s.yaml:13:5: search.space.depth: mini-xception has no depth (depth multiplier of every stage's blocks); it takes none of them; "
     "remove it from search.space"),
    (("arch: mini-xception", "arch: vggnet-khaireddin\n  stages: [0, 1, 2, 3, 4]"),
     "s.yaml:8:11: model.stages: vggnet-khaireddin has stages 0..3 (and its head); got [0, 1, 2, 3, 4]"),
    (("arch: mini-xception", "arch: resnet18\n  weights: imagenet"),
     "s.yaml:8:12: model.weights: Keras has no ImageNet weights for resnet18 (it has them for efficientnetv2-b0, efficientnetv2-b1, "
     "efficientnetv2-b2, efficientnetv2-b3, efficientnetv2-s, efficientnetv2-m, efficientnetv2-l, mobilenetv3-small, mobilenetv3-large, "
     "resnet50); use none or a weights file"),
    (("arch: mini-xception", "arch: mini-xception\n  weights: run/best.pt"),
     "s.yaml:8:12: model.weights: give none, imagenet, or a .keras or .weights.h5 file; got 'run/best.pt'"),
    (("  max_epochs: 3", "  max_epochs: 3\n  freeze: {epochs: 1, learning_rate: 1.0e-5}"),
     "s.yaml:10:11: train.freeze: freezing trains the head on top of loaded weights: set model.weights (imagenet or a file), or remove train.freeze"),
    (("arch: mini-xception", "arch: custom"),
     "s.yaml:7:9: model.arch: arch custom needs model.builder: \"package.module:function\" (a Keras builder taking input_shape, num_classes, **params)"),
    (("arch: mini-xception", "arch: mini-xception\n  builder: my.models:build"),
     "s.yaml:8:12: model.builder: model.builder belongs to arch custom; mini-xception is built from its table"),
    (("  arch: mini-xception\n", "  stages: [0, 1]\n"), None),
])
def test_each_zoo_mistake_gives_one_located_error(tmp_path: Path, edit: tuple[str, str], expected: str | None) -> None:
    old, new = edit
    assert old in BASE
    errors, _ = problems(tmp_path, BASE.replace(old, new, 1))
    assert errors == ([expected] if expected else [])


def test_a_missing_weights_file_is_a_warning(tmp_path: Path) -> None:
    errors, warnings = problems(tmp_path, BASE.replace("arch: mini-xception", "arch: mini-xception\n  weights: old/best/model.keras"))
    assert errors == [] and warnings == ["s.yaml:8:12: warning: model.weights: old/best/model.keras does not exist (yet); the run needs it"]


def test_freeze_needs_epochs_left_to_fine_tune(tmp_path: Path) -> None:
    (tmp_path / "w.keras").write_bytes(b"")
    text = BASE.replace("arch: mini-xception", "arch: mini-xception\n  weights: w.keras").replace(
        "  max_epochs: 3", "  max_epochs: 3\n  freeze: {epochs: 3, learning_rate: 1.0e-5}")
    errors, _ = problems(tmp_path, text)
    assert errors == ["s.yaml:11:20: train.freeze.epochs: the head alone for 3 epochs leaves none of train.max_epochs (3) to fine-tune"]


@pytest.mark.parametrize("schedule", ["{name: cosine}", "{name: step}", "{name: constant, warmup_epochs: 1}"])
def test_freeze_refuses_a_schedule_that_would_override_its_rate(tmp_path: Path, schedule: str) -> None:
    (tmp_path / "w.keras").write_bytes(b"")
    text = BASE.replace("arch: mini-xception", "arch: mini-xception\n  weights: w.keras").replace(
        "  max_epochs: 3", f"  max_epochs: 3\n  freeze: {{epochs: 1, learning_rate: 1.0e-5}}\n  schedule: {schedule}")
    errors, _ = problems(tmp_path, text)
    assert len(errors) == 1 and "train.schedule: train.freeze fine-tunes at its own learning_rate" in errors[0]
    ok, _ = problems(tmp_path, text.replace(f"schedule: {schedule}", "schedule: {name: plateau}"))
    assert ok == []


SEARCH = BASE.replace("  arch: mini-xception\n", "  stages: [0, 1]\n").replace(
    "    learning_rate", "    arch: {choices: [mini-xception, efficientnetv2-b0, resnet18]}\n    width: {float: [0.25, 0.5]}\n    learning_rate")


def test_a_searched_architecture_leaves_family_values_to_the_trial(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, SEARCH))
    assert spec.model.arch is None and spec.model.width is None and spec.model.depth is None and spec.model.stages == (0, 1)
    assert [p.name for p in spec.search.space][:2] == ["arch", "width"]
    [run] = plan_spec(spec, gpus=[]).runs
    from ferbench.plan import run_summary

    summary = run_summary(run)
    assert summary["model"]["arch"] == ["mini-xception", "efficientnetv2-b0", "resnet18"]
    assert summary["model"]["params"][0] < summary["model"]["params"][1]  # over every choice and width


@pytest.mark.parametrize("edit,expected", [
    (("resnet18]", "resnet81]"), "s.yaml:13:56: search.space.arch.choices[2]: unknown architecture 'resnet81'; did you mean 'resnet18'?; known: "),
    (("  stages: [0, 1]\n", "  stages: [0, 1]\n  arch: resnet18\n"),
     "s.yaml:8:9: model.arch: arch is both fixed here and searched in search.space (line 14); remove one, or fix it with --set model.arch=VALUE"),
    (("    width: {float: [0.25, 0.5]}", "    width: {float: [0.25, 0.5]}\n    top_filters: {int: [16, 64]}"), None),
    (("efficientnetv2-b0, resnet18]}\n    width", "resnet18]}\n    depth"), "s.yaml:14:5: search.space.depth: none of mini-xception, resnet18 has depth"),
])
def test_searched_architecture_mistakes(tmp_path: Path, edit: tuple[str, str], expected: str | None) -> None:
    errors, _ = problems(tmp_path, SEARCH.replace(*edit, 1))
    if expected is None:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0].startswith(expected), errors


MATRIX = BASE.replace("  arch: mini-xception\n", "  dropout: 0.3\n") + """\
matrix:
  model:
    - {arch: mini-xception}
    - {arch: resnet50, stages: [0, 1, 2], width: 0.5}
    - {arch: efficientnetv2-s, stages: [0, 1, 2, 3, 4], width: 0.5, depth: 0.5}
"""


def test_a_matrix_of_model_sections_gives_one_run_per_model(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, MATRIX))
    runs = plan_spec(spec, gpus=[]).runs
    models = [r.spec.model for r in runs]
    assert [m.arch for m in models] == ["mini-xception", "resnet50", "efficientnetv2-s"]
    # Each cell replaces the model section and gets its family's defaults, nothing of another family's.
    assert (models[0].stages, models[0].width, models[0].dropout) == ((0, 1, 2, 3, 4), None, None)
    assert (models[1].stages, models[1].width, models[1].dropout, models[1].depth) == ((0, 1, 2), 0.5, 0.2, None)
    assert (models[2].depth, models[2].top_filters, models[2].drop_connect) == (0.5, 1280, 0.2)
    assert len({r.run_id for r in runs}) == 3


def test_a_matrix_cell_is_checked_against_its_family(tmp_path: Path) -> None:
    errors, _ = problems(tmp_path, MATRIX.replace("{arch: mini-xception}", "{arch: mini-xception, depth: 0.5}"))
    assert errors == ["s.yaml:16:7: model.depth: mini-xception has no depth (depth multiplier of every stage's blocks); it takes none of them; "
                      "remove model.depth"]


def test_the_schema_names_every_registered_architecture() -> None:
    assert subschema(("model", "arch"))["enum"] == list(ARCHS)
