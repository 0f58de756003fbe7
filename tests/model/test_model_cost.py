"""The analytic cost model: hand counts, search-space ranges, no TensorFlow import."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest

from ferbench.model.efficientnetv2.cost import model_cost
from ferbench.model.ranges import cost_range, param_bounds
from ferbench.spec.search_types import SearchParam
from ferbench.spec.types import ModelSpec


def test_hand_count_stem_and_first_stage() -> None:
    # 32x32x1, stages 0-1, width 1, depth 1, head 16, 7 classes, worked by hand:
    # stem conv3x3 1->24 at 16x16: 216 weights + BN 96; 216 * 256 MACs
    # stage 1: 2 x (conv3x3 24->24 at 16x16 + BN): 5184 + 96 each; 5184 * 256 MACs each
    # head: conv1x1 24->16 at 16x16 + BN: 384 + 64; 384 * 256 MACs; dense 16->7: 112 + 7; 112 MACs
    cost = model_cost(input_shape=(32, 32, 1), num_classes=7, stages=(0, 1), width=1.0, depth=1.0, top_filters=16)
    assert [s.params for s in cost.stages] == [312, 10560, 448 + 119]
    assert [s.macs for s in cost.stages] == [55296, 2 * 1327104, 98304 + 112]
    assert cost.params == 11439 and cost.macs == 2807920 and cost.flops == 2 * 2807920
    assert [(s.stage, s.kind, s.repeats, s.channels, s.output_size) for s in cost.stages] == [
        (0, "stem", 1, 24, 16),
        (1, "fused_mbconv", 2, 24, 16),
        (7, "head", 1, 16, 16),
    ]


def test_full_efficientnetv2s_on_fer() -> None:
    cost = model_cost(input_shape=(48, 48, 1), num_classes=7, stages=tuple(range(7)), width=1.0, depth=1.0, top_filters=1280)
    assert cost.params == 20_339_895  # = keras EfficientNetV2S(include_top=False, 48x48x1) + Dense(7)
    assert [s.output_size for s in cost.stages] == [24, 24, 12, 6, 3, 3, 2, 2]
    assert [s.channels for s in cost.stages] == [24, 24, 48, 64, 128, 160, 256, 1280]
    assert [s.repeats for s in cost.stages] == [1, 2, 4, 4, 6, 9, 15, 1]


# The thesis's best configurations (Tables 5.3, 5.5, 5.7); cross-checked against
# count_params() of the built models in test_thesis_configurations_build.
THESIS = {
    "baseline_fer2013": (dict(input_shape=(48, 48, 1), stages=tuple(range(7)), width=0.75, depth=1.25, top_filters=24), 14_762_939, 119_172_256),
    "scaled_fer2013": (dict(input_shape=(48, 48, 1), stages=tuple(range(5)), width=1.3, depth=0.55, top_filters=24), 2_069_145, 96_856_192),
    "scaled_affectnet": (dict(input_shape=(48, 48, 3), stages=tuple(range(5)), width=1.0545, depth=1.2, top_filters=24), 2_607_125, 103_937_224),
}


@pytest.mark.parametrize("name", sorted(THESIS))
def test_thesis_configurations(name: str) -> None:
    cfg, params, macs = THESIS[name]
    cost = model_cost(num_classes=7, **cfg)
    assert (cost.params, cost.macs) == (params, macs)


def test_monotone_in_every_coefficient() -> None:
    # cost_range relies on this: more width, depth or head filters never costs less.
    grid = [0.2 + 0.05 * i for i in range(25)]
    for stages in ((0, 1, 2), tuple(range(7))):
        for w0, w1 in itertools.pairwise(grid[::3]):
            for d in (0.2, 0.8, 1.4):
                a = model_cost(input_shape=(48, 48, 1), num_classes=7, stages=stages, width=w0, depth=d, top_filters=64)
                b = model_cost(input_shape=(48, 48, 1), num_classes=7, stages=stages, width=w1, depth=d, top_filters=64)
                c = model_cost(input_shape=(48, 48, 1), num_classes=7, stages=stages, width=w0, depth=d + 0.05, top_filters=64)
                e = model_cost(input_shape=(48, 48, 1), num_classes=7, stages=stages, width=w0, depth=d, top_filters=72)
                for bigger in (b, c, e):
                    assert bigger.params >= a.params and bigger.macs >= a.macs


def _model(**kw) -> ModelSpec:
    base = dict(arch="efficientnetv2-s", stages=(0, 1, 2, 3, 4), width=None, depth=None, dropout=None, top_filters=None, drop_connect=0.2)
    base.update(kw)
    return ModelSpec(**base)


THESIS_SPACE = (
    SearchParam("learning_rate", "train.learning_rate", "float", 5e-6, 1e-2, log=True),
    SearchParam("width", "model.width", "float", 0.2, 1.4, 0.05),
    SearchParam("depth", "model.depth", "float", 0.2, 1.4, 0.05),
    SearchParam("dropout", "model.dropout", "float", 0.0, 0.5, 0.05),
    SearchParam("top_filters", "model.top_filters", "int", 16, 160, 8),
)


def test_cost_range_over_the_thesis_space() -> None:
    lo, hi = cost_range(_model(), THESIS_SPACE, (48, 48, 1), 7)
    kw = dict(input_shape=(48, 48, 1), num_classes=7, stages=(0, 1, 2, 3, 4))
    assert lo == model_cost(width=0.2, depth=0.2, top_filters=16, **kw)
    assert hi == model_cost(width=1.4, depth=1.4, top_filters=160, **kw)
    assert lo.params < hi.params


def test_cost_range_uses_fixed_values_and_reachable_highs() -> None:
    space = (
        SearchParam("width", "model.width", "float", 0.2, 1.42, 0.05),  # 1.42 is not reachable: 1.4 is
        SearchParam("top_filters", "model.top_filters", "int", 16, 100, 8),  # 100 -> 96
    )
    lo, hi = cost_range(_model(depth=0.5), space, (48, 48, 1), 7)
    kw = dict(input_shape=(48, 48, 1), num_classes=7, stages=(0, 1, 2, 3, 4), depth=0.5)
    assert lo == model_cost(width=0.2, top_filters=16, **kw)
    assert hi == model_cost(width=1.4, top_filters=96, **kw)
    fixed_lo, fixed_hi = cost_range(_model(width=1.3, depth=0.55, top_filters=24), (), (48, 48, 1), 7)
    assert fixed_lo == fixed_hi


def test_param_bounds() -> None:
    assert param_bounds(SearchParam("width", "model.width", "float", 0.2, 1.4, 0.05)) == (0.2, 1.4)
    assert param_bounds(SearchParam("width", "model.width", "float", 0.2, 1.0)) == (0.2, 1.0)
    assert param_bounds(SearchParam("top_filters", "model.top_filters", "categorical", choices=(64, 16, 32))) == (16, 64)
    assert param_bounds(SearchParam("depth", "model.depth", "float", 0.3, 1.0, 0.3)) == (0.3, 0.9)


def test_neither_fixed_nor_searched_takes_the_family_default() -> None:
    # As a trial does (a searched architecture leaves its family's values to the trial).
    lo, hi = cost_range(_model(width=1.0, top_filters=24), (), (48, 48, 1), 7)
    assert lo == hi == model_cost(input_shape=(48, 48, 1), num_classes=7, stages=(0, 1, 2, 3, 4), width=1.0, depth=1.0, top_filters=24)


def test_cost_model_imports_no_tensorflow() -> None:
    code = (
        "import sys\n"
        "import ferbench.model.efficientnetv2.cost as c, ferbench.model.ranges, ferbench.model.efficientnetv2.arch, ferbench.model.runtime, ferbench.model.efficientnetv2.build\n"
        "import ferbench.cli.model\n"
        "c.model_cost(input_shape=(48, 48, 1), num_classes=7, stages=(0, 1, 2), width=1.0, depth=1.0, top_filters=24)\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'optuna') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
