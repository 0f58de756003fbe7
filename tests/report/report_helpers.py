"""Helpers shared by the report tests (imported by name: tests/report is on sys.path)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "fixtures" / "results"
GOLDEN = HERE / "golden"


def run_dir(root: Path, spec: str) -> Path:
    """The single run folder of ``spec`` under ``root``."""
    (d,) = [p.parent for p in (root / spec).glob("*/run.json")]
    return d
