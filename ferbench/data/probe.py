"""Cheap looks at a dataset path: which layout is there, by names and file types only.

No file is opened and nothing is decoded, so the spec loader can use these to pick
the default splits of the layout it will find, and layout detection uses the same
looks to pick the layout it loads.
"""

from __future__ import annotations

import os
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
