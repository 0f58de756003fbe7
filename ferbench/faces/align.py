"""Face crops: a square around the box with a margin, optionally rotated so the eyes are level."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ferbench.faces.detect import Face

if TYPE_CHECKING:
    from PIL import Image


def eye_angle(face: Face) -> float:
    """Degrees the face is tilted (clockwise in the image), from its eyes; 0 without eyes."""
    if face.eyes is None:
        return 0.0
    (lx, ly), (rx, ry) = face.eyes
    return math.degrees(math.atan2(ry - ly, rx - lx))


def crop_face(image: Image.Image, face: Face, *, margin: float, align: str) -> Image.Image:
    """The face as a square image: the box's longer side plus ``margin`` of it on every side.

    With ``align == "eyes"`` (and eyes known) the image is first rotated about the
    box's centre so the eyes are level. Parts outside the image are black.
    """
    from PIL import Image

    x, y, w, h = face.box
    cx, cy = x + w / 2, y + h / 2
    if align == "eyes" and face.eyes is not None:
        angle = eye_angle(face)
        if abs(angle) > 0.5:
            # PIL turns counter-clockwise for a positive angle: undo the tilt.
            image = image.rotate(angle, resample=Image.Resampling.BILINEAR, center=(cx, cy))
    half = max(w, h) * (0.5 + margin)
    box = (round(cx - half), round(cy - half), round(cx + half), round(cy + half))
    return image.crop(box)
