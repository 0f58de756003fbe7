"""Corruptions: pure array transforms, deterministic, shape- and range-preserving, and the table agrees with the schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import numpy as np
import pytest

from ferbench.data.corruptions import CORRUPTION_NAMES, CORRUPTIONS, SEVERITIES, corrupt
from ferbench.spec.enums import CorruptionName

REPO = Path(__file__).resolve().parents[2]


def _faces(n: int = 6, side: int = 48, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:side, 0:side]
    base = (96 + 80 * np.sin(xx / 5.0) * np.cos(yy / 7.0)).astype(np.float64)
    x = base[None, :, :, None] + rng.normal(0, 20, (n, side, side, channels))
    return np.clip(x, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", CORRUPTION_NAMES)
@pytest.mark.parametrize("severity", SEVERITIES)
def test_each_corruption_is_deterministic_and_keeps_shape_and_range(name: str, severity: int) -> None:
    x = _faces()
    a, b = corrupt(x, name, severity, seed=11), corrupt(x, name, severity, seed=11)
    assert a.shape == x.shape and a.dtype == np.uint8  # uint8: the range 0..255 by construction
    assert np.array_equal(a, b)
    assert not np.array_equal(a, x), "a corruption must change the images"
    assert np.array_equal(x, _faces()), "the input is not modified in place"


@pytest.mark.parametrize("name", CORRUPTION_NAMES)
def test_severity_5_moves_images_further_than_severity_1(name: str) -> None:
    x = _faces().astype(np.float64)
    d1 = np.abs(corrupt(x.astype(np.uint8), name, 1).astype(np.float64) - x).mean()
    d5 = np.abs(corrupt(x.astype(np.uint8), name, 5).astype(np.float64) - x).mean()
    assert d5 > d1


def test_colour_images_and_other_sizes_keep_their_shape() -> None:
    x = _faces(n=3, side=64, channels=3)
    for name in CORRUPTION_NAMES:
        assert corrupt(x, name, 3).shape == (3, 64, 64, 3)


def test_the_seed_changes_random_corruptions_only() -> None:
    x = _faces()
    assert not np.array_equal(corrupt(x, "gaussian_noise", 3, seed=1), corrupt(x, "gaussian_noise", 3, seed=2))
    assert np.array_equal(corrupt(x, "occlusion_eyes", 3, seed=1), corrupt(x, "occlusion_eyes", 3, seed=2))


def test_occlusions_cover_their_region_of_a_48x48_face() -> None:
    x = np.full((1, 48, 48, 1), 200, np.uint8)
    eyes, mouth = corrupt(x, "occlusion_eyes", 5)[0, :, :, 0], corrupt(x, "occlusion_mouth", 5)[0, :, :, 0]
    assert eyes[19, 24] == 0 and eyes[40, 24] == 200 and eyes[19, 0] == 200
    assert mouth[37, 24] == 0 and mouth[19, 24] == 200
    patch = corrupt(x, "occlusion_patch", 5)[0, :, :, 0]
    assert (patch == 0).sum() == 24 * 24


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(_faces(), "fog", 1)
    with pytest.raises(ValueError, match="severity"):
        corrupt(_faces(), "jpeg", 6)
    with pytest.raises(ValueError, match="uint8"):
        corrupt(_faces().astype(np.float32), "jpeg", 1)


def test_the_table_the_literal_and_the_schema_agree() -> None:
    schema = json.loads((REPO / "schemas" / "spec.schema.json").read_text(encoding="utf-8"))
    items = schema["$defs"]["evaluate"]["properties"]["robustness"]["properties"]["corruptions"]["items"]
    enum = next(part["enum"] for part in items["anyOf"] if "enum" in part)  # beside the ${NAME} alternative
    assert list(CORRUPTIONS) == list(get_args(CorruptionName)) == enum
    assert all(len(c.levels) == len(SEVERITIES) for c in CORRUPTIONS.values())
