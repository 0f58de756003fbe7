"""Cheap looks at a dataset path: which layout is there, by names and file types only.

No file is opened and nothing is decoded, so the spec loader can use these to pick
the default splits of the layout it will find, and layout detection uses the same
looks to pick the layout it loads.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

#: File names of the FER2013 Kaggle CSV looked for inside a dataset folder, in order.
CSV_NAMES: tuple[str, ...] = ("fer2013.csv", "fer2013.csv.gz", "fer2013.zip", "fer2013.csv.zip", "icml_face_data.csv")


def expand(path: str) -> Path:
    """``dataset.path`` (or another spec path) with ``~`` and ``$VAR`` expanded."""
    return Path(os.path.expandvars(os.path.expanduser(path)))


def fer2013_csv(path: Path) -> Path | None:
    """The FER2013 CSV at ``path``: the file itself, or one of :data:`CSV_NAMES` inside the folder."""
    if path.is_file():
        return path
    return next((path / n for n in CSV_NAMES if (path / n).is_file()), None)


@dataclass
class Release:
    """Where the parts of an official AffectNet release are."""

    root: Path
    images: Path
    lists: dict[str, Path]  # split name -> csv


#: AffectNet list file -> the named split it becomes.
AFFECTNET_LISTS: dict[str, str] = {"training.csv": "train", "validation.csv": "validation"}


def affectnet_release(root: Path) -> Release | None:
    """The official AffectNet layout under ``root``, or ``None``.

    The csv files sit at the top or in ``Manually_Annotated_file_lists/``; the images
    in ``Manually_Annotated_Images/``, possibly under ``Manually_Annotated/``.
    """
    if not root.is_dir():
        return None
    candidates = (root / "Manually_Annotated_Images", root / "Manually_Annotated" / "Manually_Annotated_Images")
    images = next((p for p in candidates if p.is_dir()), None)
    lists: dict[str, Path] = {}
    for folder in (root, root / "Manually_Annotated_file_lists"):
        for name, split in AFFECTNET_LISTS.items():
            if split not in lists and (folder / name).is_file():
                lists[split] = folder / name
    if images is None or not lists:
        return None
    return Release(root, images, lists)


def class_folders(path: Path) -> bool:
    """Whether ``path`` can hold class folders: it is a folder (what is inside is checked when loading)."""
    return path.is_dir()


#: RAF-DB's label file (the release spells it "patition").
RAFDB_LABELS = "EmoLabel/list_patition_label.txt"


def rafdb_release(root: Path) -> Path | None:
    """The ``basic/`` folder of a RAF-DB release under ``root`` (``root`` itself or ``root/basic``), or ``None``."""
    return next((b for b in (root / "basic", root) if (b / RAFDB_LABELS).is_file() and (b / "Image").is_dir()), None)


def expw_release(root: Path) -> Path | None:
    """The ExpW release under ``root`` (``label/label.lst`` and ``image/origin/``), or ``None``."""
    return next((r for r in (root, root / "ExpW") if (r / "label" / "label.lst").is_file() and (r / "image" / "origin").is_dir()), None)


def ckplus_release(root: Path) -> Path | None:
    """The CK+ release under ``root`` (``cohn-kanade-images/`` beside ``Emotion/``), or ``None``."""
    return next((r for r in (root, root / "CK+") if (r / "cohn-kanade-images").is_dir() and (r / "Emotion").is_dir()), None)


#: JAFFE file names: subject, expression with its take, picture number (``KA.AN1.39.tiff``).
JAFFE_NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})(\d+)\.(\d+)\.tiff?$", re.IGNORECASE)
#: KDEF file names: session, sex, subject, expression, angle (``AF01ANS.JPG``).
KDEF_NAME = re.compile(r"^([AB])([FM])(\d\d)(AF|AN|DI|HA|NE|SA|SU)(FL|HL|S|HR|FR)\.jpe?g$", re.IGNORECASE)


def _named(root: Path, pattern: re.Pattern[str], deep: bool) -> Path | None:
    for folder in (root, root / "jaffe", root / "KDEF"):
        if not folder.is_dir():
            continue
        names = [p for p in folder.iterdir() if p.is_dir()] if deep else [folder]
        for sub in names:
            if any(pattern.match(n) for n in os.listdir(sub)):
                return folder
    return None


def jaffe_release(root: Path) -> Path | None:
    """The folder holding JAFFE's ``KA.AN1.39.tiff`` files, or ``None``."""
    return _named(root, JAFFE_NAME, deep=False)


def kdef_release(root: Path) -> Path | None:
    """The folder holding KDEF's ``AF01/AF01ANS.JPG`` folders, or ``None``."""
    return _named(root, KDEF_NAME, deep=True)
