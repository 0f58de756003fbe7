"""Writers of tiny datasets in exactly the released formats of RAF-DB, ExpW, CK+, JAFFE and KDEF.

Each face is a constant grey level chosen by its class (``LEVEL``), so a test can
tell from the decoded pixels which label a face got.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from data_helpers import write_image

#: Grey level of a face of each class (far enough apart to survive JPEG).
LEVEL = {"angry": 20, "disgust": 50, "fear": 80, "happy": 110, "sad": 140, "surprise": 170, "neutral": 200, "contempt": 230}


def level_class(x: np.ndarray) -> str:
    """The class whose level is nearest to the image's median."""
    m = int(np.median(x))
    return min(LEVEL, key=lambda c: abs(LEVEL[c] - m))


def face(cls: str, size: int = 100) -> np.ndarray:
    return np.full((size, size, 3), LEVEL[cls], np.uint8)


RAF = ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")  # labels 1..7


#: Where a writer puts a RAF-DB original's face: (image, (x, y, width, height) of the face, eye centres or None).
Original = tuple[np.ndarray, tuple[int, int, int, int], tuple[tuple[float, float], tuple[float, float]] | None]


def _plain_original(cls: str, n: int) -> Original:
    return np.full((300, 260, 3), 255, np.uint8), (60, 70, 140, 140), None


def manu_attri(box: tuple[int, int, int, int], eyes, gender: int, race: int, age: int) -> str:
    """A ``*_manu_attri.txt`` as released: five ``x<TAB>y`` landmark lines (eyes, nose tip, mouth corners), then three codes."""
    x, y, w, h = box
    eyes = eyes or ((x + 0.3 * w, y + 0.4 * h), (x + 0.7 * w, y + 0.4 * h))
    points = [*eyes, (x + 0.5 * w, y + 0.6 * h), (x + 0.35 * w, y + 0.8 * h), (x + 0.65 * w, y + 0.8 * h)]
    return "".join(f"{px:.2f}\t{py:.2f}\n" for px, py in points) + f"{gender}\n{race}\n{age}\n"


def write_rafdb(root: Path, per_class: dict[str, tuple[int, int]], original=_plain_original) -> dict[str, dict[str, int]]:
    """``basic/`` with the label file, aligned and original images, bounding boxes and attribute files, all as released.

    ``original(cls, n)`` draws the n-th original photo of a class; returns split -> class -> count.
    """
    basic = root / "basic"
    lines, counts = [], {"train": {}, "test": {}}
    n = {"train": 0, "test": 0}
    for d in ("manual", "boundingbox"):
        (basic / "Annotation" / d).mkdir(parents=True, exist_ok=True)
    for cls, (train, test) in per_class.items():
        for split, k in (("train", train), ("test", test)):
            for _ in range(k):
                n[split] += 1
                stem = f"{split}_{n[split]:05d}" if split == "train" else f"{split}_{n[split]:04d}"
                lines.append(f"{stem}.jpg {RAF.index(cls) + 1}")
                write_image(basic / "Image" / "aligned" / f"{stem}_aligned.jpg", face(cls))
                photo, (x, y, w, h), eyes = original(cls, n[split])
                write_image(basic / "Image" / "original" / f"{stem}.jpg", photo)
                (basic / "Annotation" / "boundingbox" / f"{stem}_boundingbox.txt").write_text(f"{x:.2f} {y:.2f} {x + w:.2f} {y + h:.2f}\n")
                attri = manu_attri((x, y, w, h), eyes, n[split] % 2, n[split] % 3, n[split] % 5)
                (basic / "Annotation" / "manual" / f"{stem}_manu_attri.txt").write_text(attri)
                counts[split][cls] = counts[split].get(cls, 0) + 1
    (basic / "EmoLabel").mkdir(parents=True, exist_ok=True)
    (basic / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return counts


ExpwFace = tuple[tuple[int, int, int, int], str, float]  # (x, y, width, height), class, confidence


def write_expw_photos(root: Path, photos: list[tuple[np.ndarray, list[ExpwFace]]]) -> None:
    """``label/label.lst`` + ``image/origin/`` for given photos and their faces, as released."""
    fer = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    lines = []
    for i, (img, faces) in enumerate(photos):
        name = f"{fer[0]}_{i:03d}.jpg"
        for j, ((left, top, w, h), cls, conf) in enumerate(faces):
            # top left right bottom, as label.lst orders them
            lines.append(f"{name} {j} {top} {left} {left + w} {top + h} {conf:.6f} {fer.index(cls)}")
        write_image(root / "image" / "origin" / name, img)
    (root / "label").mkdir(parents=True, exist_ok=True)
    (root / "label" / "label.lst").write_text("\n".join(lines) + "\n")


def write_expw(root: Path, images: list[list[tuple[str, float]]]) -> list[tuple[str, float]]:
    """Each image holds its faces side by side (class, confidence) as flat grey squares; returns every face listed."""
    photos = []
    for row in images:
        img = np.full((120, 80 * len(row) + 20, 3), 255, np.uint8)
        faces: list[ExpwFace] = []
        for j, (cls, conf) in enumerate(row):
            left, top = 10 + 80 * j, 20
            img[top : top + 70, left : left + 70] = LEVEL[cls]
            faces.append(((left, top, 70, 70), cls, conf))
        photos.append((img, faces))
    write_expw_photos(root, photos)
    return [f for row in images for f in row]


CK_CODES = ("neutral", "angry", "contempt", "disgust", "fear", "happy", "sad", "surprise")


def write_ckplus(root: Path, sequences: list[tuple[str, str, str | None, int]]) -> None:
    """``cohn-kanade-images/S005/001/S005_001_000000NN.png`` and ``Emotion/.../*_emotion.txt`` (``None``: no emotion file).

    Frames before the last three are neutral grey; the last three have the class's level.
    """
    for subject, seq, cls, frames in sequences:
        for k in range(1, frames + 1):
            level = cls if cls is not None and k > frames - 3 else "neutral"
            arr = np.full((64, 64), LEVEL[level if level != "neutral" else "neutral"], np.uint8)
            write_image(root / "cohn-kanade-images" / subject / seq / f"{subject}_{seq}_{k:08d}.png", arr)
        emotion = root / "Emotion" / subject / seq
        emotion.mkdir(parents=True, exist_ok=True)
        if cls is not None:
            (emotion / f"{subject}_{seq}_{frames:08d}_emotion.txt").write_text(f"   {CK_CODES.index(cls):.7e}\n")


JAFFE = {"angry": "AN", "disgust": "DI", "fear": "FE", "happy": "HA", "neutral": "NE", "sad": "SA", "surprise": "SU"}
KDEF = {"angry": "AN", "disgust": "DI", "fear": "AF", "happy": "HA", "neutral": "NE", "sad": "SA", "surprise": "SU"}
