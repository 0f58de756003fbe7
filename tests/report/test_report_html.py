"""The HTML report: self-contained, and - opened in headless Chromium - it shows the
comparison table and the confusion matrix."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import colormaps
from PIL import Image

from ferbench.report.api import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WINDOW = (1400, 4400)  # tall enough for the comparisons and the first run's confusion matrices
COMPARE_HEADER = (0x1F, 0x6F, 0xEB)  # table.compare th background in render_html.CSS
RUN_ROW = (0xFF, 0xF3, 0xBF)  # table.compare tr.run td background


def test_html_is_self_contained(html_report: Path):
    page = html_report.read_text(encoding="utf-8")
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r'(src|href)="(?!#|data:)', page), "only in-page anchors and data: URIs"
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3 * 8 + 2 * 2  # eight plots per run (with the reliability diagram); accuracy against parameters and against MACs per dataset
    for data in images:
        Image.open(io.BytesIO(base64.b64decode(data))).verify()
    assert page.index('id="compare-fer2013-7-table"') < page.index('id="confusion_raw"')


def _screenshot(html: Path, png: Path, profile: Path) -> np.ndarray:
    return _screenshot_sized(html, png, profile, WINDOW)


def _mask(img: np.ndarray, colour: tuple[int, int, int], tol: int = 6) -> np.ndarray:
    return (np.abs(img - np.array(colour, dtype=np.int16)) <= tol).all(axis=-1)


def _dark_blues(img: np.ndarray) -> np.ndarray:
    """Pixels of the confusion matrices' colormap at its dark end (no other colour on the page is near it)."""
    mask = np.zeros(img.shape[:2], bool)
    for v in (0.85, 0.9, 0.95, 1.0):
        rgb = tuple(int(round(255 * c)) for c in colormaps["Blues"](v)[:3])
        mask |= _mask(img, rgb, tol=10)
    return mask


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_screenshot_shows_comparison_table_and_confusion_matrix(html_report: Path, results_dir: Path, tmp_path: Path):
    shot = tmp_path / "report.png"
    img = _screenshot(html_report, shot, tmp_path / "profile")
    assert shot.stat().st_size > 100_000
    assert img.shape[:2] == (WINDOW[1], WINDOW[0])

    header, runs, blues = _mask(img, COMPARE_HEADER), _mask(img, RUN_ROW), _dark_blues(img)
    # Both comparison tables: two wide blue header bands and three highlighted run rows.
    header_rows = np.flatnonzero(header.sum(axis=1) > 600)
    assert len(header_rows) > 30, "comparison table header not visible"
    assert (runs.sum(axis=1) > 600).sum() > 40, "run rows of the comparison table not visible"
    # The confusion matrices (Blues colormap) below the tables.
    assert blues.sum() > 2000, f"confusion matrix colours not found ({blues.sum()} px)"
    assert header_rows[0] < np.flatnonzero(blues.any(axis=1))[0]

    # Negative control: the same page without plots has the tables but no confusion-matrix colours,
    # so the assertion above is really about the figure.
    bare = tmp_path / "bare.html"
    write_report([results_dir], fmt="html", out=bare, compare=True, plots=False)
    img2 = _screenshot(bare, tmp_path / "bare.png", tmp_path / "profile2")
    assert (_mask(img2, COMPARE_HEADER).sum(axis=1) > 600).sum() > 30
    assert _dark_blues(img2).sum() < 50


def _share_colour() -> tuple[int, int, int]:
    from ferbench.report.evaluation_plots import SHARE_COLOUR

    h = SHARE_COLOUR.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_screenshot_shows_the_reliability_diagram(results_dir: Path, tmp_path: Path):
    """One run's page in Chromium shows its reliability diagram (the bars of the share of samples per bin)."""
    folder = next((results_dir / "scaled_affectnet").iterdir())
    page = tmp_path / "run.html"
    write_report([folder], fmt="html", out=page)
    assert 'id="reliability"' in page.read_text(encoding="utf-8")
    img = _screenshot_sized(page, tmp_path / "run.png", tmp_path / "profile", (1400, 9000))
    bars = _mask(img, _share_colour(), tol=4)
    assert bars.sum() > 1500, f"reliability diagram bars not visible ({bars.sum()} px)"
    # Negative control: without plots, nothing on the page has that colour.
    bare = tmp_path / "bare.html"
    write_report([folder], fmt="html", out=bare, plots=False)
    img2 = _screenshot_sized(bare, tmp_path / "bare.png", tmp_path / "profile2", (1400, 9000))
    assert _mask(img2, _share_colour(), tol=4).sum() < 50


def _screenshot_sized(html: Path, png: Path, profile: Path, window: tuple[int, int]) -> np.ndarray:
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={window[0]},{window[1]}", html.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert png.is_file(), f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return np.asarray(Image.open(png).convert("RGB")).astype(np.int16)
