"""Copies of the input images with each face's box and predicted class drawn: the picture a user wants first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ferbench.predict.score import ImagePrediction

#: Small images (FER2013's 48×48) are enlarged to at least this many pixels so the labels can be read.
MIN_SIDE = 320
COLORS = ((230, 60, 60), (60, 200, 90), (70, 120, 240), (240, 190, 40), (200, 80, 220), (40, 200, 220), (250, 130, 40))


def _name(path: Path, taken: set[str]) -> str:
    stem, n = path.stem, 1
    name = f"{stem}.png"
    while name in taken:
        n += 1
        name = f"{stem}-{n}.png"
    taken.add(name)
    return name


def annotate(results: Sequence[ImagePrediction], classes: Sequence[str], folder: Path) -> list[Path]:
    """Write ``<folder>/<image name>.png`` for every readable image; returns the files written."""
    from PIL import ImageDraw, ImageFont

    from ferbench.faces.stage import open_image

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    taken: set[str] = set()
    for r in results:
        if r.error is not None:
            continue
        im, _ = open_image(r.path)
        scale = max(1.0, MIN_SIDE / min(im.size))
        if scale > 1:
            im = im.resize((round(im.size[0] * scale), round(im.size[1] * scale)))
        draw = ImageDraw.Draw(im)
        size = max(12, round(min(im.size) / 22))
        font = ImageFont.load_default(size=size)
        width = max(2, round(min(im.size) / 160))
        if not r.faces:
            draw.text((6, 6), "no face found", fill=(255, 255, 0), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
        for f in r.faces:
            color = COLORS[list(classes).index(f.label) % len(COLORS)]
            text = f"{f.label} {float(f.probabilities.max()):.2f}"
            if f.face is None:
                x0, y0, x1, y1 = 0.0, 0.0, im.size[0] - 1.0, im.size[1] - 1.0
            else:
                x, y, w, h = (v * scale for v in f.face.box)
                x0, y0, x1, y1 = x, y, x + w, y + h
            draw.rectangle((x0, y0, x1, y1), outline=color, width=width)
            tx, ty = x0 + width + 2, (y0 - size - 6 if y0 - size - 6 >= 0 else y0 + width + 2)
            draw.text((tx, ty), text, fill=color, font=font, stroke_width=2, stroke_fill=(0, 0, 0))
        target = folder / _name(r.path, taken)
        im.save(target, "PNG")
        written.append(target)
    return written
