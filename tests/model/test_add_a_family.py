"""docs/architecture.md's "Add a model family", followed: one new module, a few lines, and the family
is listed by ``ferbench model``, validates, plans and trains one epoch like a built-in one."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

#: The new module, as the recipe writes it: a Family, cost() without TensorFlow, build() with Keras, register().
TINYNET = '''
"""TinyNet: one 3x3 convolution per stage, then the shared classifier."""

from ferbench._lazy import require
from ferbench.model.blocks import batch_norm, check_io, classifier, rescale
from ferbench.model.counting import BN, StageCost, conv, dense, same_out, total
from ferbench.model.family import Family, ModelConfigError
from ferbench.model.registry import register
from ferbench.model.scaling import round_filters

FILTERS = (16, 32, 64)
FAMILIES = (Family(name="tinynet", title="TinyNet", reference="docs/architecture.md's recipe",
                   stages=("Conv3x3",) * len(FILTERS), head="Pool & FC", takes=("width", "dropout"),
                   defaults={"width": 1.0, "dropout": 0.0}, module=__name__),)


def cost(config, input_shape, num_classes):
    h, w, c = input_shape
    rows = []
    for stage in config.stages:
        f = round_filters(FILTERS[stage], config.need("width"))
        h, w = same_out(h, 2), same_out(w, 2)
        p, m = conv(h, w, 3, c, f)
        rows.append(StageCost(stage, "conv", 1, f, h, p + BN * f, m))
        c = f
    rows.append(StageCost(len(FILTERS), "head", 1, num_classes, 1, *dense(c, num_classes)))
    return total(rows)


def build(config, input_shape, num_classes, *, preprocessing=True, fused_batch_norm=True):
    problems = check_io(input_shape, num_classes, config.need("dropout"))
    if problems:
        raise ModelConfigError("; ".join(problems))
    keras = require("keras")
    inputs = keras.Input(shape=input_shape, name="image")
    x = rescale(keras, inputs, 1.0 / 255.0, 0.0) if preprocessing else inputs
    for stage in config.stages:
        f = round_filters(FILTERS[stage], config.need("width"))
        x = keras.layers.Conv2D(f, 3, strides=2, padding="same", use_bias=False, name=f"stage{stage}_conv")(x)
        x = batch_norm(keras, f"stage{stage}_bn", fused=fused_batch_norm)(x)
        x = keras.layers.Activation("relu", name=f"stage{stage}_activation")(x)
    return keras.Model(inputs, classifier(keras, x, num_classes, config.need("dropout")), name="tinynet")


register(*FAMILIES)
'''

SPEC = """\
ferbench: 1
name: tinynet
seed: 1
results: {results}
dataset:
  kind: synthetic
  image_size: 32
  synthetic: {{train: 32, validation: 16, test: 16, imbalance: balanced}}
model: {{arch: tinynet, stages: [0, 1], width: 0.5, dropout: 0.1}}
train: {{learning_rate: 0.01, batch_size: 16, max_epochs: 1, early_stopping: null}}
search: {{trials: 1, sampler: {{name: random}}}}
runtime: {{devices: cpu}}
"""


@pytest.fixture
def tinynet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from ferbench.model import registry

    (tmp_path / "tinynet.py").write_text(textwrap.dedent(TINYNET), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("tinynet")
    try:
        yield tmp_path
    finally:
        registry.unregister("tinynet")
        sys.modules.pop("tinynet", None)


def test_the_family_is_listed_validates_and_plans(tinynet: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ferbench.cli.main import main
    from ferbench.model.registry import FAMILIES, family_cost

    assert main(["model", "list"]) == 0
    assert "tinynet" in capsys.readouterr().out
    spec = tinynet / "tinynet.yaml"
    spec.write_text(SPEC.format(results=tinynet / "results"), encoding="utf-8")
    assert main(["validate", str(spec)]) == 0
    capsys.readouterr()
    assert main(["plan", str(spec), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    [run] = plan["runs"]
    assert run["model"]["arch"] == "tinynet"
    expected = family_cost(FAMILIES["tinynet"].config((0, 1), width=0.5, dropout=0.1), (32, 32, 1), 7)
    assert json.dumps(expected.params) in json.dumps(run)
    (tinynet / "bad.yaml").write_text(SPEC.format(results=tinynet / "results").replace("arch: tinynet", "arch: tinynett"))
    assert main(["validate", str(tinynet / "bad.yaml")]) == 2


@pytest.mark.slow
def test_the_family_trains_one_epoch(tinynet: Path) -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("optuna")
    from ferbench.cli.main import main
    from ferbench.model.registry import FAMILIES, family_cost

    spec = tinynet / "tinynet.yaml"
    spec.write_text(SPEC.format(results=tinynet / "results"), encoding="utf-8")
    assert main(["run", str(spec), "--quiet"]) == 0
    [record_file] = (tinynet / "results").rglob("trials/0000/record.json")
    record = json.loads(record_file.read_text(encoding="utf-8"))
    assert record["state"] == "complete" and record["epochs"] == 1
    assert record["hyperparameters"]["arch"] == "tinynet"
    assert record["cost"]["params"] == family_cost(FAMILIES["tinynet"].config((0, 1), width=0.5, dropout=0.1), (32, 32, 1), 7).params
