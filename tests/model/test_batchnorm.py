"""The batch-norm momentum a trial trains with: the family's own, capped for the training set, or model.bn_momentum."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ferbench.model.batchnorm import dataset_cap, training_momentum
from ferbench.model.registry import FAMILIES


def test_the_cap_spans_a_quarter_of_an_epoch_within_bounds() -> None:
    assert dataset_cap(28_709 // 64) == 0.99  # FER2013 at batch 64: 448 steps, 1 - 4/448 > 0.99
    assert dataset_cap(200) == pytest.approx(0.98)
    assert dataset_cap(46) == pytest.approx(1 - 4 / 46)
    assert dataset_cap(17) == dataset_cap(0) == 0.9


def test_family_values_and_what_a_trial_trains_with() -> None:
    # Keras's own values: what the parity tests build, and what ImageNet training assumed
    assert FAMILIES["mobilenetv3-small"].bn_momentum == FAMILIES["mobilenetv3-large"].bn_momentum == 0.999
    assert FAMILIES["resnet50"].bn_momentum == FAMILIES["mini-xception"].bn_momentum == 0.99
    assert FAMILIES["efficientnetv2-s"].bn_momentum == FAMILIES["vggnet-khaireddin"].bn_momentum == 0.9
    fer2013 = 28_709 // 64
    assert training_momentum(0.999, fer2013) == 0.99  # MobileNetV3 on FER2013: 0.999 assumed ImageNet's steps
    assert training_momentum(0.99, fer2013) == 0.99  # ResNet, mini-Xception: unchanged
    assert training_momentum(0.9, fer2013) == 0.9  # EfficientNetV2, VGG: unchanged
    assert training_momentum(0.999, 3000 // 64) == pytest.approx(1 - 4 / 46, abs=1e-6)  # a few thousand images
    assert training_momentum(0.999, fer2013, given=0.95) == 0.95  # model.bn_momentum wins
    assert training_momentum(None, fer2013) is None  # a custom builder's batch norms are its own


def test_built_model_takes_the_momentum(keras_clean: Any) -> None:
    import keras

    from ferbench.model.registry import build_family

    fam = FAMILIES["mobilenetv3-small"]

    def momenta(model: Any) -> set[float]:
        return {layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}

    assert momenta(build_family(fam.config((0, 1), width=0.25), (32, 32, 1), 7)) == {0.999}
    model = build_family(fam.config((0, 1), width=0.25, bn_momentum=0.9), (32, 32, 1), 7)
    assert momenta(model) == {0.9}
    assert {layer.get_config()["momentum"] for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)} == {0.9}


def test_a_bottleneck_resnet_from_scratch_starts_its_residual_branches_at_zero(keras_clean: Any) -> None:
    import keras
    import numpy as np

    from ferbench.model.registry import build_family

    assert FAMILIES["resnet50"].zero_init_last == "bn3"
    assert FAMILIES["resnet18"].zero_init_last is FAMILIES["mobilenetv3-small"].zero_init_last is None
    fam = FAMILIES["resnet50"]

    def gammas(model: Any) -> dict[str, float]:
        return {layer.name: float(np.abs(np.asarray(layer.gamma)).max()) for layer in model.layers
                if isinstance(layer, keras.layers.BatchNormalization)}

    plain = gammas(build_family(fam.config((0, 1), width=0.25), (32, 32, 1), 7))  # as Keras builds it
    assert set(plain.values()) == {1.0}
    zeroed = gammas(build_family(replace(fam.config((0, 1), width=0.25), zero_init_last=True), (32, 32, 1), 7))
    last = {name for name in zeroed if name.endswith("_bn3")}
    assert len(last) == 3  # stage 1's three bottlenecks
    assert all(zeroed[n] == 0.0 for n in last) and all(v == 1.0 for n, v in zeroed.items() if n not in last)
