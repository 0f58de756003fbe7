"""The batch-norm momentum a trial trains with: the family's own, capped for the training set, or model.bn_momentum."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
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


def _gammas(model: Any) -> dict[str, float]:
    import keras
    import numpy as np

    return {layer.name: float(np.abs(np.asarray(layer.gamma)).max()) for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization)}


#: Each ResNet's last batch norm of a residual branch, and how many blocks stage 1 has.
RESNETS = {"resnet18": ("bn2", 2), "resnet34": ("bn2", 3), "resnet50": ("bn3", 3)}


@pytest.mark.parametrize("arch", list(RESNETS))
def test_a_resnet_from_scratch_starts_its_residual_branches_at_zero(keras_clean: Any, arch: str) -> None:
    from ferbench.model.registry import build_family

    suffix, blocks = RESNETS[arch]
    assert FAMILIES[arch].zero_init_last == suffix
    assert FAMILIES["mobilenetv3-small"].zero_init_last is None
    fam = FAMILIES[arch]
    plain = _gammas(build_family(fam.config((0, 1), width=0.25), (32, 32, 1), 7))  # as Keras's conventions build it
    assert set(plain.values()) == {1.0}
    zeroed = _gammas(build_family(replace(fam.config((0, 1), width=0.25), zero_init_last=True), (32, 32, 1), 7))
    last = {name for name in zeroed if name.endswith(f"_{suffix}")}
    assert len(last) == blocks  # one per block of stage 1; never a shortcut's batch norm
    assert all(zeroed[n] == 0.0 for n in last) and all(v == 1.0 for n, v in zeroed.items() if n not in last)


def test_a_basic_block_resnet_with_loaded_weights_keeps_their_gammas(keras_clean: Any, tmp_path: Path) -> None:
    """What a trial does: ``zero_init_last`` (recorded) only from scratch; with ``model.weights`` the loaded gammas count."""
    import keras
    import numpy as np

    from ferbench.model.registry import build_family
    from ferbench.model.weights import load_weights
    from ferbench.run.train.batchnorm import bn_values
    from ferbench.run.train.trial import model_config
    from ferbench.spec import load_spec

    fam = FAMILIES["resnet18"]
    donor = build_family(fam.config((0, 1), width=0.25), (32, 32, 1), 7)
    for layer in donor.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.gamma.assign(np.full(layer.gamma.shape, 0.5, np.float32))
    donor.save(tmp_path / "donor.keras")

    def trial_model(weights: str) -> tuple[bool, dict[str, float]]:
        path = tmp_path / f"{weights[:4]}.yaml"
        path.write_text("ferbench: 1\nname: z\ndataset: {kind: synthetic, image_size: 32}\n"
                        f"model: {{arch: resnet18, width: 0.25, stages: [0, 1], weights: '{weights}'}}\n", encoding="utf-8")
        spec = load_spec(path)
        hp = {"arch": "resnet18", "width": 0.25, "dropout": 0.2, "batch_size": 16}
        hp.update(bn_values(spec, hp, 160))
        model = build_family(model_config(spec, hp), spec.input_shape, spec.num_classes)
        if weights != "none":
            load_weights(model, weights, model_config(spec, hp), spec.input_shape)
        return bool(hp["zero_init_last"]), _gammas(model)

    scratch, zeroed = trial_model("none")
    assert scratch and {zeroed[n] for n in zeroed if n.endswith("_bn2")} == {0.0}
    pretrained, loaded = trial_model(str(tmp_path / "donor.keras"))
    assert not pretrained and set(loaded.values()) == {0.5}  # every gamma the file's, none zeroed
