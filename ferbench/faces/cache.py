"""The detection cache: the faces found in an image, keyed by the image's bytes and the detector's settings.

A later load with the same detector and settings reads the boxes instead of
detecting again; any change of detector, minimum size or library version is a new
key, so it detects afresh. Crops are cheap to remake from the boxes, so margin and
alignment are not part of the key (the data cache keeps the crops themselves).
One small JSON file per image, written whole (temporary file, then rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from ferbench.faces.detect import Face

#: Bump when what a cached entry means changes.
FORMAT = 1


def detector_key(name: str, min_size: int, version: str) -> str:
    """The cache key of a detector and its settings."""
    return hashlib.sha256(json.dumps([FORMAT, name, min_size, version]).encode()).hexdigest()[:24]


class DetectionCache:
    """Faces per image digest under ``<root>/faces/<detector key>/``."""

    def __init__(self, root: Path, key: str):
        self.folder = root / "faces" / key
        self.writable = True

    def _file(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest}.json"

    def get(self, digest: str) -> list[Face] | None:
        try:
            data = json.loads(self._file(digest).read_text())
            return [Face.from_json(f) for f in data["faces"]]
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None

    def put(self, digest: str, faces: list[Face]) -> None:
        """Store the faces of one image; a cache that cannot be written is left alone (the next load detects again)."""
        if not self.writable:
            return
        target = self._file(digest)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
            with os.fdopen(fd, "w") as fh:
                json.dump({"faces": [f.to_json() for f in faces]}, fh)
            os.replace(tmp, target)
        except OSError:
            self.writable = False
