"""Golden files: the fixture results folder gives exactly the committed markdown.

After an intended change of the tables, regenerate with
``FERBENCH_UPDATE_GOLDEN=1 python -m pytest tests/report/test_report_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from report_helpers import GOLDEN
from typer.testing import CliRunner

from ferbench.cli.report import app


@pytest.mark.parametrize("name, args", [("compare.md", ["--compare"]), ("runs.md", [])])
def test_markdown_matches_golden(results_dir: Path, name: str, args: list[str]):
    res = CliRunner().invoke(app, [str(results_dir), *args, "--format", "markdown", "--no-plots"])
    assert res.exit_code == 0, res.output
    golden = GOLDEN / name
    if os.environ.get("FERBENCH_UPDATE_GOLDEN"):
        golden.write_text(res.stdout, encoding="utf-8")
    assert res.stdout == golden.read_text(encoding="utf-8")
