"""Fixtures of the report tests: the committed results folder, copies to break, and a
report with plots built once per session (plots are the slow part)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from report_helpers import FIXTURE


@pytest.fixture(scope="session")
def results_dir() -> Path:
    """The committed fixture results folder (three runs: two FER2013, one AffectNet)."""
    assert (FIXTURE / "scaled_fer2013").is_dir(), "run tests/report/make_fixture.py"
    return FIXTURE


@pytest.fixture()
def results_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture, for tests that break it."""
    dst = tmp_path / "results"
    shutil.copytree(FIXTURE, dst)
    return dst


@pytest.fixture(scope="session")
def html_report(tmp_path_factory: pytest.TempPathFactory, results_dir: Path) -> Path:
    """``ferbench report --compare --format html --out report.html`` with plots, built once."""
    from ferbench.report.api import write_report

    out = tmp_path_factory.mktemp("html") / "report.html"
    written = write_report([results_dir], fmt="html", out=out, compare=True)
    assert written == out
    return out
