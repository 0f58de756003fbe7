"""The image files ``ferbench predict`` reads: files, folders (searched recursively) and glob patterns."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

from ferbench.data.images import IMAGE_EXTENSIONS


def expand_inputs(inputs: Sequence[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """The files to read, in order and each once, and the inputs that name nothing (``(input, why)``).

    A file is read whatever its name (if it is no image, that is reported when it is
    read); a folder gives the image files under it, sorted; a pattern with ``*``,
    ``?`` or ``[`` that is not an existing path is expanded like the shell does.
    """
    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    for text in inputs:
        p = Path(text).expanduser()
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file())
            if not found:
                missing.append((text, "folder holds no image files"))
            files += found
        elif p.exists() or p.is_symlink():
            files.append(p)
        elif any(c in text for c in "*?["):
            matched = sorted(Path(m) for m in glob.glob(str(p), recursive=True) if Path(m).is_file())
            if not matched:
                missing.append((text, "pattern matches no file"))
            files += matched
        else:
            missing.append((text, "file not found"))
    return list(dict.fromkeys(files)), missing
