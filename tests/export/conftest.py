"""Fixtures of the export tests: they train the run tests' tiny specs (``tests/run/runspecs.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "run"))
