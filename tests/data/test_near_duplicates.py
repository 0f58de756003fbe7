"""The near-duplicate leakage check on generated faces with planted pairs: the same
picture re-encoded as JPEG, resized, brightened and shifted by one pixel is found in
every case, and no two different pictures are paired; ``exclude_near_duplicates:
test`` leaves exactly the planted copies out of the test split."""

from __future__ import annotations

import io

import numpy as np
from data_helpers import write_image
from PIL import Image
from test_expw_ckplus_jaffe_kdef import spec_file
from test_rafdb import describe_json

from ferbench.spec.types import SPLITS


def smooth(rng: np.random.Generator, side: int = 48) -> np.ndarray:
    """A random grey picture, all different from each other: blobs with fine texture, like a face's
    (a one-pixel shift moves the thumbnails apart, so the aligned comparison has to find it)."""
    coarse = np.asarray(Image.fromarray(rng.integers(0, 256, (6, 6)).astype(np.uint8)).resize((side, side), Image.Resampling.BICUBIC))
    fine = np.asarray(Image.fromarray(rng.integers(0, 256, (24, 24)).astype(np.uint8)).resize((side, side), Image.Resampling.BICUBIC))
    return (0.5 * coarse + 0.5 * fine).astype(np.uint8)


def jpeg(a):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=70)
    return np.asarray(Image.open(buf))


PLANTS = {  # how each planted test copy is made from its training original
    "jpeg": jpeg,
    "resized": lambda a: np.asarray(Image.fromarray(a).resize((64, 64), Image.Resampling.BILINEAR)),
    "brightened": lambda a: np.clip(a.astype(np.float64) * 1.1 + 12, 0, 255).astype(np.uint8),
    "shifted": lambda a: np.roll(a, 1, axis=1),
}


def identity(x: np.ndarray, originals: np.ndarray) -> np.ndarray:
    """Which original each loaded image is (highest pixel correlation): independent of the fingerprint."""
    side = x.shape[1]
    originals = np.stack([np.asarray(Image.fromarray(o).resize((side, side), Image.Resampling.BILINEAR)) for o in originals])
    a = x.reshape(len(x), -1).astype(np.float64)
    b = originals.reshape(len(originals), -1).astype(np.float64)
    a -= a.mean(1, keepdims=True)
    b -= b.mean(1, keepdims=True)
    c = (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T
    return c.argmax(axis=1)


def test_planted_pairs_all_found_none_invented_and_cleaned(tmp_path, capsys, monkeypatch):
    from ferbench.data import load_dataset
    from ferbench.spec.loader import load_spec

    monkeypatch.setenv("FERBENCH_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(11)
    originals = np.stack([smooth(rng) for _ in range(96)])
    root = tmp_path / "faces"
    for i, img in enumerate(originals[:80]):
        write_image(root / "train" / ("happy" if i % 2 else "sad") / f"{i:03d}.png", img)
    for i, img in enumerate(originals[80:], start=80):
        write_image(root / "test" / ("happy" if i % 2 else "sad") / f"{i:03d}.png", img)
    for k, (how, make) in enumerate(PLANTS.items()):
        write_image(root / "test" / "happy" / f"copy_{how}.png", make(originals[7 + 11 * k]))
    spec = spec_file(tmp_path, "folder", root, "  classes: [happy, sad]\n")
    report = describe_json(capsys, spec)
    data = load_dataset(load_spec(spec).dataset, seed=3, progress=False)  # as describe loaded it (the spec's seed)
    ids = {k: identity(data.splits[k].x, originals) for k in SPLITS}
    for pair, found in report["near_duplicates"].items():
        a, b = pair.split("&")
        expected = sorted([i, j] for i in range(len(ids[a])) for j in range(len(ids[b])) if ids[a][i] == ids[b][j])
        assert sorted(found["indices"]) == expected, pair
    planted = sum(v["pairs"] for k, v in report["near_duplicates"].items() if k.endswith("&test"))
    assert planted == len(PLANTS) and report["duplicates"]["train&test"] + report["duplicates"]["validation&test"] == 0

    cleaned = describe_json(capsys, spec, "dataset.exclude_near_duplicates=test")
    test = cleaned["splits"]["test"]
    assert test["total"] == report["splits"]["test"]["total"] - len(PLANTS)
    assert test["name"] == "test[cleaned: 4 near-duplicates left out]"
    assert all(v["pairs"] == 0 for k, v in cleaned["near_duplicates"].items() if k.endswith("&test"))
    assert any("cleaned: 4 of 20 image(s) with a near-duplicate" in w for w in cleaned["warnings"])
