"""Fixtures of the search tests: one finished tiny run, made once, that tests copy before they change it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from runspecs import write_spec


@pytest.fixture(scope="session")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 3-trial run in its own SQLite study (the folder holding results/ and the spec ``truth.yaml``)."""
    pytest.importorskip("optuna")
    pytest.importorskip("tensorflow")
    from ferbench.run.progress import PlainReporter
    from ferbench.run.runner import run_spec

    root = tmp_path_factory.mktemp("truth")
    spec = write_spec(root, name="truth", trials=3, epochs=1)
    [result] = run_spec(spec, reporter=PlainReporter(io.StringIO()))
    assert result.status == "complete"
    return root
