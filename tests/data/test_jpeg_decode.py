"""Face boxes of JPEGs are decoded by libjpeg-turbo at a reduced scale (CMYK JPEGs too); other
formats Pillow decodes to the same result, and a damaged file is still reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ferbench.data import images
from ferbench.data.images import Item, decode


def _photo(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)  # smooth enough for JPEG, not flat
    return np.asarray(Image.fromarray(small).resize((320, 240), Image.Resampling.BICUBIC))


def _save(path: Path, pixels: np.ndarray, fmt: str, mode: str = "RGB") -> Path:
    Image.fromarray(pixels).convert(mode).save(path, fmt, quality=92)
    return path


def test_rgb_and_cmyk_jpeg_faces_are_decoded_by_libjpeg_turbo_a_png_by_pillow_to_the_same_face(tmp_path: Path, monkeypatch) -> None:
    box = (40, 30, 200, 200)  # four times the target: decoded at 1/4 scale where the decoder scales
    pixels = _photo()
    rgb = _save(tmp_path / "rgb.jpg", pixels, "JPEG")
    cmyk = _save(tmp_path / "cmyk.jpg", pixels, "JPEG", "CMYK")
    png = _save(tmp_path / "face.png", pixels, "PNG")
    calls: list[bool] = []
    real = images._jpeg_face

    def spy(data, *args):  # type: ignore[no-untyped-def]
        out = real(data, *args)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(images, "_jpeg_face", spy)
    fast, _ = decode(Item(rgb, box), 48, "rgb")
    from_cmyk, _ = decode(Item(cmyk, box), 48, "rgb")
    from_png, _ = decode(Item(png, box), 48, "rgb")
    assert calls == [True, True, False]  # libjpeg-turbo took both JPEGs, Pillow the PNG
    assert fast.shape == from_cmyk.shape == from_png.shape == (48, 48, 3)
    full = np.asarray(Image.fromarray(pixels).crop((40, 30, 240, 230)).resize((48, 48), Image.Resampling.BILINEAR))
    for got in (fast, from_cmyk, from_png):  # the same face, whichever decoder read it
        assert np.abs(got.astype(int) - full).mean() < 8


def test_grayscale_is_the_jpeg_luma_at_every_scale(tmp_path: Path) -> None:
    pixels = _photo(1)
    path = _save(tmp_path / "p.jpg", pixels, "JPEG")
    for box in ((0, 0, 60, 60), (0, 0, 200, 200)):  # decoded at full scale, then at 1/4
        grey, _ = decode(Item(path, box), 48, "grayscale")
        rgb, _ = decode(Item(path, box), 48, "rgb")
        luma = np.asarray(Image.fromarray(rgb).convert("L"))
        assert grey.shape == (48, 48, 1)
        assert np.abs(grey[..., 0].astype(int) - luma).max() <= 3


@pytest.mark.parametrize("keep", [40, 2000])
def test_a_truncated_jpeg_is_reported_not_decoded(tmp_path: Path, keep: int) -> None:
    path = _save(tmp_path / "p.jpg", _photo(2), "JPEG")
    path.write_bytes(path.read_bytes()[:keep])  # the header cut, then the scan data cut
    with pytest.raises(ValueError, match="corrupt or unsupported image") as caught:
        decode(Item(path, (0, 0, 200, 200)), 48, "rgb")
    assert "object at 0x" not in str(caught.value)  # no memory address of Pillow's in-memory file


def test_a_file_pillow_cannot_identify_is_reported_without_a_memory_address(tmp_path: Path) -> None:
    path = tmp_path / "face.jpg"
    path.write_bytes(b"not an image at all")
    with pytest.raises(ValueError) as caught:
        decode(Item(path, (0, 0, 20, 20)), 48, "rgb")
    assert str(caught.value) == "corrupt or unsupported image (UnidentifiedImageError: cannot identify image file)"
