"""A command called in a process that goes on (a test, a program) leaves that process's SIGINT and SIGTERM handling as it was."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from ferbench.cli.main import main as cli_main


def _handlers() -> tuple[Any, Any]:
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


def test_the_entry_point_called_in_process_puts_back_the_handlers_it_found(monkeypatch: pytest.MonkeyPatch,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Before: ``ferbench._entry.main`` ended every command with SIGINT and SIGTERM set to SIG_IGN (right for a
    process about to exit, wrong for one that goes on: its Ctrl-C was ignored from then on)."""
    from ferbench._entry import main

    assert _handlers() == (signal.default_int_handler, signal.SIG_DFL)
    monkeypatch.setattr(sys, "argv", ["ferbench", "schema", "--install-path"])
    assert main() == 0
    assert capsys.readouterr().out.strip().endswith("spec.schema.json")
    assert _handlers() == (signal.default_int_handler, signal.SIG_DFL)


def test_a_worker_stopped_in_process_puts_back_the_handlers_it_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``ferbench worker`` turns SIGINT and SIGTERM into a stop that ignores later signals; stopped, it ends with 130
    and the caller's handlers back."""
    import ferbench.run.search.join as join

    spec = tmp_path / "tiny.yaml"
    spec.write_text(f"ferbench: 1\nname: tiny\nresults: {tmp_path / 'results'}\ndataset: {{kind: synthetic, image_size: 32}}\n"
                    "model: {stages: [0, 1], width: 0.1, depth: 0.1, top_filters: 8}\ntrain: {max_epochs: 1}\n"
                    "runtime: {devices: cpu}\n", encoding="utf-8")

    def stopped(*args: Any, **kwargs: Any) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # the scheduler's preemption, as the worker trains
        os.kill(os.getpid(), signal.SIGINT)  # and a Ctrl-C after it: ignored, the first stop's clean-up runs
        raise AssertionError("the SIGTERM did not stop the worker")

    monkeypatch.setattr(join, "worker_sessions", lambda *args, **kwargs: [object()])
    monkeypatch.setattr(join, "join_run", stopped)
    assert cli_main(["worker", str(spec), "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"
    assert _handlers() == (signal.default_int_handler, signal.SIG_DFL)
