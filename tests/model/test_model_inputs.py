"""The pixel scaling a trial builds each family with (ferbench.model.inputs): no family subtracts ImageNet's
statistics, it scales [0, 255] to [-1, 1]; with ImageNet's weights a family keeps the preprocessing they expect.
What the trial records is what the built model's first layer does. And MobileNetV3's small-input stem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ferbench.model.inputs import IMAGENET_MEAN, IMAGENET_MEAN_STD, PLUS_MINUS_ONE, UNIT, keras_scaling, trial_scaling
from ferbench.model.registry import FAMILIES


@pytest.mark.parametrize(("arch", "channels", "keras_own", "scratch"), [
    ("resnet18", 1, IMAGENET_MEAN, PLUS_MINUS_ONE),
    ("resnet50", 3, IMAGENET_MEAN, PLUS_MINUS_ONE),
    ("efficientnetv2-b0", 3, IMAGENET_MEAN_STD, PLUS_MINUS_ONE),
    ("efficientnetv2-b0", 1, PLUS_MINUS_ONE, PLUS_MINUS_ONE),  # Keras itself uses ImageNet's statistics on RGB only
    ("efficientnetv2-s", 3, PLUS_MINUS_ONE, PLUS_MINUS_ONE),
    ("mobilenetv3-small", 1, PLUS_MINUS_ONE, PLUS_MINUS_ONE),
    ("mini-xception", 1, PLUS_MINUS_ONE, PLUS_MINUS_ONE),
    ("vggnet-khaireddin", 1, UNIT, UNIT),
])
def test_from_scratch_no_family_uses_imagenet_statistics(arch: str, channels: int, keras_own: str, scratch: str) -> None:
    fam = FAMILIES[arch]
    assert keras_scaling(fam, channels) == keras_own
    assert trial_scaling(fam, channels, pretrained=True) == keras_own  # what its weights expect
    assert trial_scaling(fam, channels, pretrained=False) == scratch


def _first_layer(model: Any, pixels: np.ndarray) -> np.ndarray:
    import keras

    names = {layer.name for layer in model.layers}
    name = "stage0_normalize" if "stage0_normalize" in names else "stage0_rescale"  # the last of the scaling layers
    return np.asarray(keras.Model(model.inputs, model.get_layer(name).output)(pixels))


def _trial(tmp_path: Path, arch: str, color: str, weights: str, *, size: int = 32, stages: str = "[0, 1]") -> tuple[dict[str, Any], Any]:
    """The trial's recorded hyperparameters and its built model (as ``run`` builds it, before loading the weights)."""
    from ferbench.model.registry import build_family
    from ferbench.run.train.batchnorm import bn_values
    from ferbench.run.train.trial import model_config
    from ferbench.spec import load_spec

    path = tmp_path / "s.yaml"
    path.write_text(f"ferbench: 1\nname: s\ndataset: {{kind: synthetic, image_size: {size}, color: {color}}}\n"
                    f"model: {{arch: {arch}, width: 0.25, stages: {stages}, weights: '{weights}'}}\n", encoding="utf-8")
    spec = load_spec(path)
    hp: dict[str, Any] = {"arch": arch, "width": 0.25, "dropout": 0.2, "batch_size": 16}
    if arch.startswith("efficientnetv2"):
        hp.update(depth=0.25, top_filters=64, drop_connect=0.0)
    hp.update(bn_values(spec, hp, 160))
    return hp, build_family(model_config(spec, hp), spec.input_shape, spec.num_classes)


def _trial_model(tmp_path: Path, arch: str, color: str, weights: str) -> tuple[str, Any]:
    hp, model = _trial(tmp_path, arch, color, weights)
    return str(hp["input_scaling"]), model


@pytest.mark.parametrize(("arch", "color"), [("resnet50", "grayscale"), ("efficientnetv2-b0", "rgb")])
def test_the_trial_records_the_scaling_its_model_applies(keras_clean: Any, tmp_path: Path, arch: str, color: str) -> None:
    channels = 1 if color == "grayscale" else 3
    pixels = np.stack([np.zeros((32, 32, channels)), np.full((32, 32, channels), 255.0)]).astype(np.float32)

    def scaled(weights: str) -> tuple[str, np.ndarray]:
        hp, model = _trial(tmp_path, arch, color, weights)
        return str(hp["input_scaling"]), _first_layer(model, pixels)

    recorded, out = scaled("none")
    assert recorded == PLUS_MINUS_ONE
    assert out[0].max() == pytest.approx(-1.0) and out[1].min() == pytest.approx(1.0, abs=0.01)  # black -1, white ~1
    donor = tmp_path / "donor.keras"
    _trial(tmp_path, arch, color, "none")[1].save(donor)
    assert scaled(str(donor))[0] == PLUS_MINUS_ONE  # a weights file: a model built as a trial builds it

    recorded, out = scaled("imagenet")  # ImageNet's weights (not loaded here): the preprocessing they expect, Keras's
    assert recorded == (IMAGENET_MEAN if arch.startswith("resnet") else IMAGENET_MEAN_STD)
    if arch.startswith("resnet"):  # black minus ImageNet's mean pixel (the mean of its three channels for grey)
        assert out[0].max() == pytest.approx(-(123.68 + 116.779 + 103.939) / 3, abs=1e-3)
    else:  # (0 - mean) / std per channel
        assert out[0, 0, 0] == pytest.approx(-np.array([0.485, 0.456, 0.406]) / np.array([0.229, 0.224, 0.225]), abs=1e-4)


def test_mobilenetv3_small_at_48px_from_scratch_drops_its_stem_stride(keras_clean: Any, tmp_path: Path) -> None:
    """Keras's five stride-2 steps take 48x48 to 2x2; from scratch the stem keeps stride 1 and the last stage sees 3x3.
    The weights keep their shapes (ImageNet's still load); the cost model counts the model built; the trial records it."""
    from dataclasses import replace

    from keras_parity import macs_by_walking

    from ferbench.model.registry import build_family, family_cost, small_input_applies

    fam = FAMILIES["mobilenetv3-small"]
    config = fam.config(None, width=0.25)
    assert small_input_applies(config, (48, 48, 1)) and not small_input_applies(config, (96, 96, 1))
    assert not small_input_applies(fam.config((0, 1, 2)), (48, 48, 1))  # ends at 3x3 with Keras's stem
    assert not small_input_applies(FAMILIES["resnet18"].config((0, 1)), (32, 32, 1))  # a family without the adaptation

    plain = build_family(config, (48, 48, 1), 7)  # as Keras builds it
    hp, model = _trial(tmp_path, "mobilenetv3-small", "grayscale", "none", size=48, stages="[0, 1, 2, 3, 4, 5]")
    assert hp["small_input"] is True
    assert plain.get_layer("stage0_stem_conv").strides == (2, 2) and model.get_layer("stage0_stem_conv").strides == (1, 1)
    assert plain.get_layer("head_conv").output.shape[1:3] == (2, 2)
    assert model.get_layer("head_conv").output.shape[1:3] == (3, 3)
    assert [w.shape for w in model.weights] == [w.shape for w in plain.weights]
    adapted = replace(config, small_input=True)
    cost = family_cost(adapted, (48, 48, 1), 7)
    assert cost.params == model.count_params() and cost.macs == macs_by_walking(model) > family_cost(config, (48, 48, 1), 7).macs

    donor = tmp_path / "donor.keras"
    model.save(donor)
    hp, weighted = _trial(tmp_path, "mobilenetv3-small", "grayscale", str(donor), size=48, stages="[0, 1, 2, 3, 4, 5]")
    assert hp["small_input"] is True  # a weights file: taken to come from a model built the same way
    hp, weighted = _trial(tmp_path, "mobilenetv3-small", "grayscale", "imagenet", size=48, stages="[0, 1, 2, 3, 4, 5]")
    assert hp["small_input"] is False and weighted.get_layer("stage0_stem_conv").strides == (2, 2)  # ImageNet's: Keras's
