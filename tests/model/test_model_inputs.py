"""The pixel scaling a trial builds each family with (ferbench.model.inputs): from scratch no family subtracts
ImageNet's statistics, it scales [0, 255] to [-1, 1]; with initial weights a family keeps the preprocessing
its weights expect. What the trial records is what the built model's first layer does."""

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


def _trial_model(tmp_path: Path, arch: str, color: str, weights: str) -> tuple[str, Any]:
    """The trial's recorded scaling and its built model (as ``run`` builds it, before loading the weights)."""
    from ferbench.model.registry import build_family
    from ferbench.run.train.batchnorm import bn_values
    from ferbench.run.train.trial import model_config
    from ferbench.spec import load_spec

    path = tmp_path / "s.yaml"
    path.write_text(f"ferbench: 1\nname: s\ndataset: {{kind: synthetic, image_size: 32, color: {color}}}\n"
                    f"model: {{arch: {arch}, width: 0.25, stages: [0, 1], weights: '{weights}'}}\n", encoding="utf-8")
    spec = load_spec(path)
    hp: dict[str, Any] = {"arch": arch, "width": 0.25, "dropout": 0.2, "batch_size": 16}
    if arch.startswith("efficientnetv2"):
        hp.update(depth=0.25, top_filters=64, drop_connect=0.0)
    hp.update(bn_values(spec, hp, 160))
    return str(hp["input_scaling"]), build_family(model_config(spec, hp), spec.input_shape, spec.num_classes)


@pytest.mark.parametrize(("arch", "color"), [("resnet18", "grayscale"), ("efficientnetv2-b0", "rgb")])
def test_the_trial_records_the_scaling_its_model_applies(keras_clean: Any, tmp_path: Path, arch: str, color: str) -> None:
    channels = 1 if color == "grayscale" else 3
    pixels = np.stack([np.zeros((32, 32, channels)), np.full((32, 32, channels), 255.0)]).astype(np.float32)

    recorded, model = _trial_model(tmp_path, arch, color, "none")
    assert recorded == PLUS_MINUS_ONE
    out = _first_layer(model, pixels)
    assert out[0].max() == pytest.approx(-1.0) and out[1].min() == pytest.approx(1.0, abs=0.01)  # black -1, white ~1

    donor = tmp_path / "donor.keras"
    model.save(donor)
    recorded, model = _trial_model(tmp_path, arch, color, str(donor))  # initial weights: the family's Keras preprocessing
    assert recorded == (IMAGENET_MEAN if arch.startswith("resnet") else IMAGENET_MEAN_STD)
    out = _first_layer(model, pixels)
    if arch.startswith("resnet"):  # black minus ImageNet's mean pixel (the mean of its three channels for grey)
        assert out[0].max() == pytest.approx(-(123.68 + 116.779 + 103.939) / 3, abs=1e-3)
    else:  # (0 - mean) / std per channel
        assert out[0, 0, 0] == pytest.approx(-np.array([0.485, 0.456, 0.406]) / np.array([0.229, 0.224, 0.225]), abs=1e-4)
