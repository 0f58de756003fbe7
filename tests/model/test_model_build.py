"""The builder against Keras's own EfficientNetV2, and the cost model against the built model.

Keras's application code is used here only, as the reference. Every model is built once
(module-scoped fixtures) and never trained.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

keras = pytest.importorskip("keras")
from keras.src.applications import efficientnet_v2 as keras_ev2  # noqa: E402
from keras_parity import macs_by_walking, signature  # noqa: E402

from ferbench.model.efficientnetv2.arch import HEAD_STAGE, ModelConfigError, keras_blocks_args, round_filters  # noqa: E402
from ferbench.model.efficientnetv2.build import build_model, stage_outputs  # noqa: E402
from ferbench.model.efficientnetv2.cost import model_cost  # noqa: E402
from ferbench.model.family import layer_stage  # noqa: E402

SHAPE = (48, 48, 1)
CLASSES = 7
WIDTHS = (0.25, 0.75, 1.3)
DEPTHS = (0.2, 0.55, 1.25)
KEPT = (3, 5, 7)  # stages 0..2, 0..4 (thesis scaled-down), 0..6 (all)
# A Latin square over the three factors: every width with every depth, every width with every
# kept count and every depth with every kept count, once each (9 builds instead of 27).
GRID = [(w, d, KEPT[(i + j) % len(KEPT)]) for (i, w), (j, d) in itertools.product(enumerate(WIDTHS), enumerate(DEPTHS))]

def _stage_params(model: Any) -> dict[int, int]:
    out: dict[int, int] = {}
    for layer in model.layers:
        stage = layer_stage(layer.name, HEAD_STAGE)
        if stage is not None:
            out[stage] = out.get(stage, 0) + layer.count_params()
    return out


@pytest.fixture(scope="module")
def built() -> dict[tuple, dict]:
    """Our model and Keras's, built once per grid point; only the facts the tests need are kept."""
    facts: dict[tuple, dict] = {}
    for width, depth, kept in GRID:
        stages = tuple(range(kept))
        ours = build_model(
            input_shape=SHAPE, num_classes=CLASSES, stages=stages, width=width, depth=depth,
            top_filters=1280, dropout=0.2, preprocessing=False,
        )
        ref = keras_ev2.EfficientNetV2(
            width_coefficient=width, depth_coefficient=depth, default_size=SHAPE[0],
            blocks_args=keras_blocks_args(stages), include_top=False, weights=None,
            include_preprocessing=False, input_shape=SHAPE, pooling="avg",
        )
        facts[(width, depth, kept)] = {
            "params": ours.count_params(),
            "ref_params": ref.count_params(),
            "head_filters": ours.get_layer("head_conv").filters,
            "signature": signature(ours, "head_pool"),
            "ref_signature": signature(ref, "avg_pool"),
            "macs": macs_by_walking(ours),
            "stage_params": _stage_params(ours),
            "boundaries": stage_outputs(ours),
        }
        keras.backend.clear_session()
    return facts


def _classifier(head_filters: int) -> int:
    return head_filters * CLASSES + CLASSES


def test_full_model_matches_keras_efficientnetv2s() -> None:
    ours = build_model(input_shape=SHAPE, num_classes=CLASSES, stages=tuple(range(7)), width=1.0, depth=1.0, top_filters=1280, dropout=0.2)
    ref = keras.applications.EfficientNetV2S(include_top=False, weights=None, include_preprocessing=False, input_shape=SHAPE, pooling="avg")
    assert ours.count_params() == ref.count_params() + _classifier(1280) == 20_339_895
    keras.backend.clear_session()


@pytest.mark.parametrize("width,depth,kept", GRID)
def test_params_match_keras(built: dict, width: float, depth: float, kept: int) -> None:
    f = built[(width, depth, kept)]
    assert f["params"] == f["ref_params"] + _classifier(f["head_filters"])


@pytest.mark.parametrize("width,depth,kept", GRID)
def test_layers_match_keras_one_by_one(built: dict, width: float, depth: float, kept: int) -> None:
    # Same layer types, configs (strides, kernels, activations, BN momentum/epsilon,
    # stochastic-depth rates, initialisers) and weight shapes, in the same order.
    f = built[(width, depth, kept)]
    assert f["signature"] == f["ref_signature"]


@pytest.mark.parametrize("width,depth,kept", GRID)
def test_cost_model_equals_built_model(built: dict, width: float, depth: float, kept: int) -> None:
    f = built[(width, depth, kept)]
    cost = model_cost(input_shape=SHAPE, num_classes=CLASSES, stages=tuple(range(kept)), width=width, depth=depth, top_filters=1280)
    assert cost.params == f["params"]
    assert {s.stage: s.params for s in cost.stages} == f["stage_params"]
    assert cost.macs == f["macs"]


@pytest.mark.parametrize("width,depth,kept", GRID[::4])
def test_stage_boundaries_are_named(built: dict, width: float, depth: float, kept: int) -> None:
    bounds = built[(width, depth, kept)]["boundaries"]
    assert sorted(bounds) == [*range(kept), HEAD_STAGE]
    assert bounds[0] == "stage0_stem_activation"
    assert bounds[HEAD_STAGE] == "predictions"
    for stage in range(1, kept):
        assert bounds[stage].startswith(f"stage{stage}_block")


@pytest.mark.parametrize("top,width", [(24, 0.75), (24, 1.3), (24, 1.0545), (160, 0.2), (16, 0.25)])
def test_top_filters_scaled_like_keras_scales_1280(top: int, width: float) -> None:
    stages = (0, 1, 2)
    ours = build_model(input_shape=SHAPE, num_classes=CLASSES, stages=stages, width=width, depth=0.2, top_filters=top, dropout=0.0)
    expected = keras_ev2.round_filters(top, width_coefficient=width, min_depth=8, depth_divisor=8)
    assert ours.get_layer("head_conv").filters == expected == round_filters(top, width)
    # Against Keras's hard-coded 1280: the difference is exactly the head conv, its BN and the classifier.
    ref = keras_ev2.EfficientNetV2(
        width_coefficient=width, depth_coefficient=0.2, default_size=48, blocks_args=keras_blocks_args(stages),
        include_top=False, weights=None, include_preprocessing=False, input_shape=SHAPE, pooling="avg",
    )
    ref_head = ref.get_layer("top_conv").filters
    cin = ref.get_layer("top_conv").kernel.shape[2]
    assert ours.count_params() == ref.count_params() + (expected - ref_head) * (cin + 4) + _classifier(expected)
    assert "head_dropout" not in [layer.name for layer in ours.layers]  # dropout 0: no layer, as Keras
    keras.backend.clear_session()


def test_forward_pass_and_layer_names() -> None:
    import numpy as np

    model = build_model(input_shape=(32, 32, 3), num_classes=5, stages=(0, 1, 2, 3, 4), width=0.25, depth=0.2, top_filters=32, dropout=0.1)
    names = [layer.name for layer in model.layers]
    assert "stage4_block1_expand_conv" in names and "stage4_block1_se_excite" in names
    assert "stage2_block1_expand_conv" in names and "stage1_block1_project_activation" in names
    assert names[-3:] == ["head_pool", "head_dropout", "predictions"]
    y = model(np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32"), training=False)
    assert tuple(y.shape) == (2, 5) and keras.backend.standardize_dtype(y.dtype) == "float32"
    assert np.allclose(np.asarray(y).sum(axis=1), 1.0, atol=1e-5)
    keras.backend.clear_session()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"stages": (1, 2)}, "prefix"),
        ({"stages": (0, 2)}, "prefix"),
        ({"stages": tuple(range(8))}, "prefix"),
        ({"width": 0.0}, "model.width"),
        ({"dropout": 1.0}, "model.dropout"),
        ({"drop_connect": 0.9, "depth": 1.4}, "stochastic-depth"),
    ],
)
def test_bad_configurations_raise_user_errors(kwargs: dict, match: str) -> None:
    args = dict(input_shape=SHAPE, num_classes=CLASSES, stages=(0, 1, 2), width=0.25, depth=0.2, top_filters=16, dropout=0.1)
    args.update(kwargs)
    with pytest.raises(ModelConfigError, match=match):
        build_model(**args)
    keras.backend.clear_session()


# The thesis's best configurations (Tables 5.3, 5.5, 5.7): analytic count == built count.
@pytest.mark.parametrize(
    "input_shape,kept,width,depth,params",
    [
        ((48, 48, 1), 7, 0.75, 1.25, 14_762_939),  # baseline FER2013
        ((48, 48, 1), 5, 1.3, 0.55, 2_069_145),  # scaled-down FER2013
        ((48, 48, 3), 5, 1.0545, 1.2, 2_607_125),  # scaled-down AffectNet (RGB)
    ],
)
def test_thesis_configurations_build(input_shape: tuple, kept: int, width: float, depth: float, params: int) -> None:
    cfg = dict(input_shape=input_shape, num_classes=CLASSES, stages=tuple(range(kept)), width=width, depth=depth, top_filters=24)
    model = build_model(dropout=0.1, **cfg)
    assert model.count_params() == model_cost(**cfg).params == params
    keras.backend.clear_session()


def test_stem_only_model() -> None:
    # Keras cannot build this (it needs at least one blocks stage); ours is stem + head.
    cfg = dict(input_shape=(32, 32, 1), num_classes=CLASSES, stages=(0,), width=0.5, depth=0.5, top_filters=64)
    model = build_model(dropout=0.0, **cfg)
    assert model.count_params() == model_cost(**cfg).params
    assert stage_outputs(model) == {0: "stage0_stem_activation", HEAD_STAGE: "predictions"}
    keras.backend.clear_session()
