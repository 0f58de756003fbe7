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


def write_rafdb(root: Path, per_class: dict[str, tuple[int, int]]) -> dict[str, dict[str, int]]:
    """``basic/`` with the label file, aligned and original images and attribute files; returns split -> class -> count."""
    basic = root / "basic"
    lines, counts = [], {"train": {}, "test": {}}
    n = {"train": 0, "test": 0}
    for cls, (train, test) in per_class.items():
        for split, k in (("train", train), ("test", test)):
            for _ in range(k):
                n[split] += 1
                stem = f"{split}_{n[split]:05d}" if split == "train" else f"{split}_{n[split]:04d}"
                lines.append(f"{stem}.jpg {RAF.index(cls) + 1}")
                write_image(basic / "Image" / "aligned" / f"{stem}_aligned.jpg", face(cls))
                write_image(basic / "Image" / "original" / f"{stem}.jpg", np.full((300, 260, 3), 255, np.uint8))
                attri = ["12.5 30.1", "60.2 31.0", "40.0 50.5", "20.3 70.0", "62.1 71.2", str(n[split] % 2), str(n[split] % 3), str(n[split] % 5)]
                (basic / "Annotation" / "manual").mkdir(parents=True, exist_ok=True)
                (basic / "Annotation" / "manual" / f"{stem}_manu_attri.txt").write_text("\n".join(attri) + "\n")
                counts[split][cls] = counts[split].get(cls, 0) + 1
    (basic / "EmoLabel").mkdir(parents=True, exist_ok=True)
    (basic / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return counts


def write_expw(root: Path, images: list[list[tuple[str, float]]]) -> list[tuple[str, float]]:
    """``label/label.lst`` + ``image/origin/``: each image holds its faces side by side (class, confidence)."""
    fer = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    lines, faces = [], []
    for i, row in enumerate(images):
        img = np.full((120, 80 * len(row) + 20, 3), 255, np.uint8)
        name = f"{fer[0]}_{i:03d}.jpg"
        for j, (cls, conf) in enumerate(row):
            left, top = 10 + 80 * j, 20
            img[top : top + 70, left : left + 70] = LEVEL[cls]
            # top left right bottom, as label.lst orders them
            lines.append(f"{name} {j} {top} {left} {left + 70} {top + 70} {conf:.6f} {fer.index(cls)}")
            faces.append((cls, conf))
        write_image(root / "image" / "origin" / name, img)
    (root / "label").mkdir(parents=True, exist_ok=True)
    (root / "label" / "label.lst").write_text("\n".join(lines) + "\n")
    return faces


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
