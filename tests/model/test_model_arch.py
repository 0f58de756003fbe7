"""The stage table and rounding rules against Keras's definitions."""

from __future__ import annotations

import itertools

import pytest

from ferbench.model.efficientnetv2.arch import (
    ALL_STAGES,
    HEAD_STAGE,
    ModelConfigError,
    check_stages,
    expand,
    keras_blocks_args,
    round_filters,
    round_repeats,
)
from ferbench.model.family import layer_stage


@pytest.fixture(scope="module")
def keras_ev2():
    pytest.importorskip("keras")
    from keras.src.applications import efficientnet_v2

    return efficientnet_v2


def test_stage_table_is_keras_efficientnetv2s(keras_ev2) -> None:
    assert keras_blocks_args(ALL_STAGES) == keras_ev2.DEFAULT_BLOCKS_ARGS["efficientnetv2-s"]


# Coefficients on the thesis's 0.05 grid plus the AffectNet 1.0545, with Optuna-style float noise.
COEFFS = sorted({round(0.2 + 0.05 * i, 10) for i in range(25)} | {0.2 + 0.05 * i for i in range(25)} | {1.0545, 0.1, 2.0})


@pytest.mark.parametrize("filters", [16, 24, 32, 48, 64, 128, 160, 256, 1280, 17, 100])
def test_round_filters_matches_keras(keras_ev2, filters: int) -> None:
    for w in COEFFS:
        assert round_filters(filters, w) == keras_ev2.round_filters(filters, w, 8, 8), (filters, w)


def test_round_repeats_matches_keras(keras_ev2) -> None:
    for repeats, d in itertools.product((2, 4, 6, 9, 15), COEFFS):
        assert round_repeats(repeats, d) == keras_ev2.round_repeats(repeats, d)


def test_rounding_examples() -> None:
    assert round_filters(24, 0.75) == 16  # 18 -> nearest multiple of 8, half up
    assert round_filters(24, 1.3) == 32  # 31.2 -> 32
    assert round_filters(16, 0.25) == 8  # floor at 8
    assert round_repeats(2, 0.55) == 2 and round_repeats(15, 1.25) == 19  # always up


@pytest.mark.parametrize("stages", [(0,), (0, 1), (0, 1, 2, 3, 4), ALL_STAGES, [0, 1, 2]])
def test_prefixes_accepted(stages) -> None:
    assert check_stages(stages) == tuple(stages)


@pytest.mark.parametrize("stages", [(), (1,), (0, 2), (0, 1, 3), (1, 0), tuple(range(8))])
def test_non_prefixes_rejected(stages) -> None:
    with pytest.raises(ModelConfigError, match="prefix"):
        check_stages(stages)


def test_expand_lists_blocks_like_keras() -> None:
    plan = expand(stages=(0, 1, 2, 3, 4), width=1.0, depth=1.0, top_filters=1280)
    assert [len(plan.stage_blocks(s)) for s in (1, 2, 3, 4)] == [2, 4, 4, 6]
    first, second = plan.stage_blocks(2)[:2]
    assert (first.strides, first.input_filters, first.output_filters) == (2, 24, 48)
    assert (second.strides, second.input_filters, second.residual) == (1, 48, True)
    # Stochastic depth: drop_connect * b / (unscaled blocks of the kept stages), b global.
    assert [b.drop_rate for b in plan.blocks] == [0.2 * i / 16 for i in range(16)]
    assert plan.stage_blocks(4)[0].se_filters == 16  # int(64 * 0.25), from the block's input
    assert plan.head_filters == 1280 and plan.stem_filters == 24
    assert expand(stages=(0,), width=1, depth=1, top_filters=24).blocks == ()


def test_layer_stage() -> None:
    assert layer_stage("stage4_block2_expand_conv", HEAD_STAGE) == 4
    assert layer_stage("stage0_stem_conv", HEAD_STAGE) == 0
    assert layer_stage("head_conv", HEAD_STAGE) == HEAD_STAGE
    assert layer_stage("predictions", HEAD_STAGE) == HEAD_STAGE
    assert layer_stage("image", HEAD_STAGE) is None
