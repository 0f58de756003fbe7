"""Initial weights: by layer name from a .keras file, by position from a .weights.h5 file,
Keras's ImageNet weights through the family's name map, with the counts of what was loaded,
skipped and unused. Every weight file is made here; nothing is downloaded (Keras's
ImageNet loader is replaced by one that builds the application with random weights).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from ferbench.model.family import layer_stage  # noqa: E402
from ferbench.model.layers import to_keras  # noqa: E402
from ferbench.model.registry import FAMILIES, build_family  # noqa: E402
from ferbench.model.weights import FEWER, NO_LAYER, SHAPE, WeightsError, load_weights, variables  # noqa: E402

SHAPE_GREY = (32, 32, 1)
TINY = {"width": 0.25, "depth": 0.25, "top_filters": 32}


def _model(arch: str, stages: tuple[int, ...] | None, shape: tuple[int, int, int] = SHAPE_GREY, **values: Any) -> tuple[Any, Any]:
    config = FAMILIES[arch].config(stages, **values)
    return build_family(config, shape, 5), config


def _tensors(model: Any, stages: set[int], head: int) -> int:
    return sum(len(variables(layer)) for layer in model.layers if layer_stage(layer.name, head) in stages)


def test_a_saved_model_loads_by_name_into_a_truncated_one(tmp_path: Path, keras_clean: Any) -> None:
    src, _ = _model("efficientnetv2-s", (0, 1, 2), **TINY)
    path = tmp_path / "best.keras"
    to_keras(src).save(path)
    dst, config = _model("efficientnetv2-s", (0, 1), **TINY)
    report = load_weights(dst, str(path), config, SHAPE_GREY)
    # Stages 0-1 whole; of the head, its batch norm (same width) and the classifier (same classes);
    # the head conv's kernel now reads stage 1's 8 channels, not stage 2's 16.
    assert report.loaded == _tensors(dst, {0, 1}, 7) + 4 + 2
    assert report.skipped == 1 and report.skipped_because == {SHAPE: 1}
    assert report.unused == _tensors(src, {2}, 7)
    for name in ("stage0_stem_conv", "stage1_block1_project_conv", "head_bn", "predictions"):
        for a, b in zip(dst.get_layer(name).get_weights(), src.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_a_rescaled_model_keeps_what_fits(tmp_path: Path, keras_clean: Any) -> None:
    src, _ = _model("resnet18", None, width=0.25)
    path = tmp_path / "r18.keras"
    to_keras(src).save(path)
    dst, config = _model("resnet18", None, width=0.5)  # every convolution twice as wide
    report = load_weights(dst, str(path), config, SHAPE_GREY)
    # No tensor has its shape but the classifier's bias (the same classes; its kernel reads 128 features, not 64).
    assert report.loaded == 1
    assert report.skipped == sum(len(variables(layer)) for layer in dst.layers) - 1
    assert report.skipped_because == {SHAPE: report.skipped}


def test_weights_files_load_by_class_and_position(tmp_path: Path, keras_clean: Any) -> None:
    src, _ = _model("mini-xception", None)
    path = tmp_path / "minix.weights.h5"
    src.save_weights(path)  # the fused batch norm is stored under its own class name
    same, config = _model("mini-xception", None)
    report = load_weights(same, str(path), config, SHAPE_GREY)
    assert (report.loaded, report.skipped, report.unused) == (sum(len(variables(layer)) for layer in same.layers), 0, 0)
    np.testing.assert_array_equal(same.get_layer("stage3_block1_sepconv2").get_weights()[1], src.get_layer("stage3_block1_sepconv2").get_weights()[1])
    cut, config = _model("mini-xception", (0, 1))
    report = load_weights(cut, str(path), config, SHAPE_GREY)
    # Stages 0-1 sit where they sat; the head conv lands on the place of stage 2's 1x1 shortcut conv,
    # whose kernel has another shape and which has no bias.
    assert report.loaded == _tensors(cut, {0, 1}, 5)
    assert report.skipped_because == {SHAPE: 1, FEWER: 1}


def _fake_application(monkeypatch: pytest.MonkeyPatch, name: str) -> dict[str, Any]:
    """Replace ``keras.applications.<name>`` by the same application with random weights; return what it built."""
    real = getattr(keras.applications, name)
    built: dict[str, Any] = {}

    def application(**kwargs: Any) -> Any:
        assert kwargs.pop("weights") == "imagenet" and kwargs["include_top"] is False
        built["model"] = real(weights=None, **kwargs)
        return built["model"]

    monkeypatch.setattr(keras.applications, name, application)
    return built


def test_imagenet_weights_map_keras_names_and_sum_rgb_for_grey_input(monkeypatch: pytest.MonkeyPatch, keras_clean: Any) -> None:
    built = _fake_application(monkeypatch, "EfficientNetV2B0")
    dst, config = _model("efficientnetv2-b0", None)
    report = load_weights(dst, "imagenet", config, SHAPE_GREY)
    ref = built["model"]
    assert report.skipped_because == {NO_LAYER: 2}  # only the classifier is new
    assert report.loaded == sum(len(variables(layer)) for layer in dst.layers) - 2
    assert report.unused == 0
    np.testing.assert_allclose(dst.get_layer("stage0_stem_conv").kernel, np.asarray(ref.get_layer("stem_conv").kernel).sum(axis=2, keepdims=True),
                               rtol=1e-6)
    np.testing.assert_array_equal(dst.get_layer("stage4_block2_se_reduce").kernel, ref.get_layer("block4b_se_reduce").kernel)
    np.testing.assert_array_equal(dst.get_layer("head_bn").moving_variance, ref.get_layer("top_bn").moving_variance)
    assert report.adapted == ("stage0_stem_conv: RGB kernel summed over its 3 input channels for grey input",)


def test_imagenet_weights_of_resnet50_see_bgr(monkeypatch: pytest.MonkeyPatch, keras_clean: Any) -> None:
    built = _fake_application(monkeypatch, "ResNet50")
    dst, config = _model("resnet50", (0, 1, 2), shape=(32, 32, 3))
    report = load_weights(dst, "imagenet", config, (32, 32, 3))
    ref = built["model"]
    # Keras's ResNet50 weights take BGR images ("caffe"); ferbench feeds RGB: the first kernel's channels are reversed.
    np.testing.assert_array_equal(dst.get_layer("stage0_stem_conv").kernel, np.asarray(ref.get_layer("conv1_conv").kernel)[:, :, ::-1, :])
    np.testing.assert_array_equal(dst.get_layer("stage2_block4_conv2").kernel, ref.get_layer("conv3_block4_2_conv").kernel)
    kept = {layer.name for layer in ref.layers if layer.name.startswith(("conv1_", "conv2_", "conv3_"))}
    assert report.unused == sum(len(variables(layer)) for layer in ref.layers if layer.name not in kept)
    assert report.skipped_because == {NO_LAYER: 2}


def test_imagenet_weights_of_a_truncated_mobilenetv3(monkeypatch: pytest.MonkeyPatch, keras_clean: Any) -> None:
    built = _fake_application(monkeypatch, "MobileNetV3Large")
    dst, config = _model("mobilenetv3-large", (0, 1, 2, 3))
    report = load_weights(dst, "imagenet", config, SHAPE_GREY)
    ref = built["model"]
    np.testing.assert_array_equal(dst.get_layer("stage3_block3_se_expand").kernel, ref.get_layer("expanded_conv_5_squeeze_excite_conv_1").kernel)
    np.testing.assert_array_equal(dst.get_layer("stage1_block1_dwconv").kernel, ref.get_layer("expanded_conv_depthwise").kernel)
    # The head conv is six times stage 3's width, not stage 6's: its kernel is skipped, its batch norm too.
    assert report.skipped_because == {NO_LAYER: 2, SHAPE: 5}


def test_imagenet_weights_out_of_reach_say_so(monkeypatch: pytest.MonkeyPatch, keras_clean: Any) -> None:
    def offline(**kwargs: Any) -> Any:
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.applications, "EfficientNetV2S", offline)
    dst, config = _model("efficientnetv2-s", (0, 1), **TINY)
    with pytest.raises(WeightsError, match=r"imagenet: Keras could not load the ImageNet weights of EfficientNetV2S \(URL fetch failure"):
        load_weights(dst, "imagenet", config, SHAPE_GREY)


@pytest.mark.parametrize("source,match", [("missing.keras", "is not a file"), ("model.h5", "must end in .keras or .weights.h5")])
def test_weights_file_problems_are_user_errors(source: str, match: str, tmp_path: Path, keras_clean: Any) -> None:
    if source.endswith(".h5"):
        (tmp_path / source).write_bytes(b"")
    dst, config = _model("mini-xception", (0,))
    with pytest.raises(WeightsError, match=match):
        load_weights(dst, str(tmp_path / source), config, SHAPE_GREY)
