"""Fixtures of the faces tests: real FER2013 faces from ``../shared/data`` (skipped where absent)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from scenes import fer_faces  # noqa: E402


@pytest.fixture(scope="session")
def real_faces(fer2013_dir: Path) -> list[tuple[int, np.ndarray]]:
    """The first 60 non-blank FER2013 training faces (label, 48×48)."""
    return fer_faces(fer2013_dir / "fer2013.csv.gz", 60)
