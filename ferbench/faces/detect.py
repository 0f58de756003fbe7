"""Face detectors behind one interface: ``haar`` (OpenCV's cascade), ``mtcnn``, and ``boxes`` (given).

Every detector's model ships inside its package (OpenCV 4.x's Haar cascades, mtcnn
1.0's weights in its wheel): nothing is downloaded at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ferbench._lazy import require
from ferbench.errors import FerbenchError

#: What the detectors need, and how to get them.
FACES_HINT = "pip install 'ferbench[faces]'"

Point = tuple[float, float]
#: Besides upright, the Haar cascade looks at the image turned by these angles (degrees), for tilted faces.
TILTS = (-20.0, 20.0)


@dataclass(frozen=True)
class Face:
    """One face: its box ``(x, y, width, height)`` in pixels, a score, and the eye centres if known.

    ``eyes`` is ``(left, right)`` as they appear in the image (the subject's right eye first).
    """

    box: tuple[float, float, float, float]
    score: float = 1.0
    eyes: tuple[Point, Point] | None = None

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]

    def to_json(self) -> dict[str, Any]:
        return {"box": [round(v, 2) for v in self.box], "score": round(self.score, 5),
                "eyes": None if self.eyes is None else [[round(v, 2) for v in p] for p in self.eyes]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Face:
        eyes = d.get("eyes")
        x, y, w, h = (float(v) for v in d["box"])
        pair = None if eyes is None else ((float(eyes[0][0]), float(eyes[0][1])), (float(eyes[1][0]), float(eyes[1][1])))
        return cls((x, y, w, h), float(d.get("score", 1.0)), pair)


class Detector(Protocol):
    """Finds faces in an RGB image (H×W×3 uint8)."""

    name: str

    def detect(self, rgb: np.ndarray) -> list[Face]: ...

    def version(self) -> str:
        """What the detections depend on besides the settings (the library's version)."""
        ...


def _require(module: str) -> Any:
    """``module``, or a :class:`~ferbench.errors.MissingDependency` with the ``[faces]`` install hint."""
    return require(module)


class HaarDetector:
    """OpenCV's frontal-face Haar cascade (no landmarks, so no eye alignment)."""

    name = "haar"

    def __init__(self, min_size: int):
        self.cv2 = _require("cv2")
        path = self.cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self.cascade = self.cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise FerbenchError(f"{path}: OpenCV's Haar cascade is missing (OpenCV 5 no longer ships it); {FACES_HINT} installs OpenCV 4")
        self.min_size = min_size

    def version(self) -> str:
        return f"opencv {self.cv2.__version__}"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        gray = self.cv2.equalizeHist(self.cv2.cvtColor(rgb, self.cv2.COLOR_RGB2GRAY))
        faces = self._detect(gray)
        for angle in TILTS:  # the cascade sees upright faces only: look at the image turned both ways too
            for f in self._turned(gray, angle):
                if all(iou(f.box, g.box) < 0.3 for g in faces):
                    faces.append(f)
        return faces

    def _detect(self, gray: np.ndarray) -> list[Face]:
        boxes, _, weights = self.cascade.detectMultiScale3(gray, scaleFactor=1.1, minNeighbors=5, minSize=(self.min_size, self.min_size),
                                                           outputRejectLevels=True)
        return [Face((float(x), float(y), float(w), float(h)), float(s)) for (x, y, w, h), s in zip(boxes, np.ravel(weights))]

    def _turned(self, gray: np.ndarray, angle: float) -> list[Face]:
        """Faces found in the image turned by ``angle`` degrees, with their boxes' centres turned back."""
        h, w = gray.shape
        m = self.cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        back = self.cv2.invertAffineTransform(m)
        out = []
        for f in self._detect(self.cv2.warpAffine(gray, m, (w, h), borderMode=self.cv2.BORDER_REPLICATE)):
            x, y, bw, bh = f.box
            cx, cy = back @ np.array([x + bw / 2, y + bh / 2, 1.0])
            out.append(Face((float(cx - bw / 2), float(cy - bh / 2), bw, bh), f.score))
        return out


class MtcnnDetector:
    """MTCNN (mtcnn 1.0, TensorFlow): boxes and five landmarks, of which the eyes are kept."""

    name = "mtcnn"

    def __init__(self, min_size: int):
        _require("tensorflow")  # imported quietly before mtcnn imports it
        self.mtcnn = _require("mtcnn")
        self.model = self.mtcnn.MTCNN(device="CPU:0")
        self.min_size = min_size

    def version(self) -> str:
        return f"mtcnn {getattr(self.mtcnn, '__version__', '?')}"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        # mtcnn 1.0 loses faces it finds at its default pyramid (min_face_size 20) when asked for
        # a larger minimum (24 found none of two clear faces here), so larger minimums are filtered after.
        found = self.model.detect_faces(rgb, min_face_size=min(self.min_size, 20))
        out = []
        for f in found:
            x, y, w, h = (float(v) for v in f["box"])
            kp = f.get("keypoints") or {}
            eyes = None
            if "left_eye" in kp and "right_eye" in kp:
                a, b = tuple(float(v) for v in kp["left_eye"]), tuple(float(v) for v in kp["right_eye"])
                eyes = (a, b) if a[0] <= b[0] else (b, a)
            if min(w, h) >= self.min_size:
                out.append(Face((x, y, w, h), float(f["confidence"]), eyes))  # type: ignore[arg-type]
        return out


class GivenBoxes:
    """The boxes (and landmarks) a dataset provides: nothing is detected."""

    name = "boxes"

    def version(self) -> str:
        return "given"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        raise FerbenchError("dataset.faces.detector: boxes uses the face boxes a dataset provides, and this one provides none; "
                            "use haar or mtcnn")


def make_detector(name: str, min_size: int) -> Detector:
    """The detector called ``name`` (haar | mtcnn | boxes)."""
    if name == "haar":
        return HaarDetector(min_size)
    if name == "mtcnn":
        return MtcnnDetector(min_size)
    if name == "boxes":
        return GivenBoxes()
    raise FerbenchError(f"unknown face detector {name!r}; use haar, mtcnn or boxes")


def pick(faces: Sequence[Face], on_many: str) -> list[Face]:
    """The faces kept of one image: the largest, or all (largest first)."""
    ordered = sorted(faces, key=lambda f: -f.area)
    return ordered[:1] if on_many == "largest" else ordered


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, width, height)`` boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
