"""Helpers shared by the report tests (imported by name: tests/report is on sys.path)."""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "fixtures" / "results"
GOLDEN = HERE / "golden"


def run_dir(root: Path, spec: str) -> Path:
    """The single run folder of ``spec`` under ``root``."""
    (d,) = [p.parent for p in (root / spec).glob("*/run.json")]
    return d


def squeeze_md(text: str) -> str:
    """Markdown table rows without the column padding tabulate adds (``|  a   |`` -> ``| a |``)."""
    return re.sub(r" +\|", " |", re.sub(r"\| +", "| ", text))
