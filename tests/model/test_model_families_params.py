"""Every family, built, has the parameter count it had before the model package was reorganised.

The numbers were read off the builders before EfficientNetV2 moved into its own package and
the families started sharing their block and rounding helpers: a move must not change a
single weight. The analytic cost model must agree with the built model too.
"""

from __future__ import annotations

import pytest

pytest.importorskip("keras")

from ferbench.model.registry import FAMILIES, build_family, family_cost  # noqa: E402

#: family -> count_params() at 32x32x1, 7 classes, stages 0-2, width 0.25, depth 0.25, top_filters 64,
#: dropout 0.1, drop_connect 0.1 (each family taking those it has).
BEFORE = {
    "efficientnetv2-b0": 3743,
    "efficientnetv2-b1": 3743,
    "efficientnetv2-b2": 3743,
    "efficientnetv2-b3": 3743,
    "efficientnetv2-s": 4159,
    "efficientnetv2-m": 14719,
    "efficientnetv2-l": 14719,
    "mobilenetv3-small": 4215,
    "mobilenetv3-large": 3407,
    "resnet18": 43959,
    "resnet34": 86071,
    "resnet50": 97095,
    "mini-xception": 6519,
    "vggnet-khaireddin": 89479,
}

VALUES = {"width": 0.25, "depth": 0.25, "top_filters": 64, "dropout": 0.1, "drop_connect": 0.1}


def test_every_registered_family_is_pinned() -> None:
    assert sorted(FAMILIES) == sorted(BEFORE)


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_built_parameter_count_is_unchanged(name: str) -> None:
    fam = FAMILIES[name]
    config = fam.config((0, 1, 2), **{k: v for k, v in VALUES.items() if k in fam.takes})
    model = build_family(config, (32, 32, 1), 7)
    assert model.count_params() == BEFORE[name]
    assert family_cost(config, (32, 32, 1), 7).params == BEFORE[name]
