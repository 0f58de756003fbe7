"""``ferbench worker``: join a run's study from any host and pull trials until it is done.

Importing this module is cheap: TensorFlow and Optuna are imported inside the command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Iterator, Optional

import typer

from ferbench.cli.common import SET_OPTION
from ferbench.errors import FerbenchError
from ferbench.redact import redact
from ferbench.run.signals import signals_as_interrupt


def watch_parent(parent: int) -> None:
    """Stop this worker (as SIGTERM would) when the ``ferbench run`` that started it is gone."""
    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="ferbench-parent-watch", daemon=True).start()


@contextlib.contextmanager
def redacted_errors(url: Optional[str]) -> Iterator[None]:
    """Unexpected errors leave with their traceback, but never with a storage password."""
    try:
        yield
    except (FerbenchError, KeyboardInterrupt, typer.Exit, SystemExit):
        raise
    except Exception as exc:
        if not url:
            raise
        sys.stderr.write(redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)), url))
        raise typer.Exit(1) from None


def storage_in_use(storage: Optional[str], spec: Any = None) -> Optional[str]:
    """The storage URL a command will use (option, then $FERBENCH_STORAGE, then the spec)."""
    return storage or os.environ.get("FERBENCH_STORAGE") or (spec.runtime.storage if spec is not None else None)


def worker(
    spec: Path = typer.Argument(..., help="The spec file (the same spec as the run's: its hash must match the study's)."),
    sets: Optional[list[str]] = SET_OPTION,
    storage: Optional[str] = typer.Option(None, "--storage", help="The study's Optuna storage URL (postgresql://..., journal:///path; $FERBENCH_STORAGE)."),
    run_id: Optional[str] = typer.Option(None, "--run", metavar="RUN_ID", help="Only this run id of the plan (default: every run, in order)."),
    create: bool = typer.Option(False, "--create", help="Create the study when the storage has none (e.g. every task of a SLURM array)."),
    index: Optional[int] = typer.Option(None, "--index", min=0, help="This worker's index (e.g. $SLURM_ARRAY_TASK_ID): seeds its sampler stream."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines."),
    slot: Optional[str] = typer.Option(None, "--slot", hidden=True),
    managed: bool = typer.Option(False, "--managed", hidden=True),
    parent: Optional[int] = typer.Option(None, "--parent-pid", hidden=True),
    timeout_s: Optional[float] = typer.Option(None, "--timeout-s", hidden=True),
) -> None:
    """Join a run's study (from any host) and train its trials until the study holds the spec's number.

    Exit status: 0 when the study is done with a complete trial, 1 when it has none,
    2 on a spec, storage or results problem (a study made from a different spec is
    refused), 130 when interrupted (the running trial is re-queued for another worker).
    """
    from ferbench.cli.common import load
    from ferbench.plan import plan_spec
    from ferbench.run.join import WorkerOptions, join_run
    from ferbench.run.progress import PlainReporter, Reporter

    loaded = load(spec, sets)
    url = storage_in_use(storage, loaded)
    with redacted_errors(url):
        the_plan = plan_spec(loaded, storage=storage)
        runs = [r for r in the_plan.runs if run_id is None or r.run_id == run_id]
        if not runs:
            if len(the_plan.runs) != 1:
                raise FerbenchError(f"no run of {spec} has id {run_id}; `ferbench plan {spec}` lists them")
            # The study asked for is checked against this spec's hash: it is refused when they differ.
            runs = [_as_study(the_plan.runs[0], str(run_id))]
        if slot is not None and slot not in ("cpu", "gpu"):
            raise FerbenchError(f"--slot {slot}: expected cpu or gpu")
        if parent is not None:
            watch_parent(parent)
        opts = WorkerOptions(create=create, index=index, slot=slot, managed=managed, timeout_s=timeout_s)
        reporter = Reporter() if quiet else PlainReporter(tag=None if index is None else f"w{index}")
        incomplete = False
        with signals_as_interrupt((signal.SIGINT, signal.SIGTERM), once=True):
            for i, planned in enumerate(runs, 1):
                final = join_run(planned, opts, reporter, index=i, total=len(runs))
                incomplete |= final is None or final.complete == 0
                if not quiet and not managed:  # a supervising `ferbench run` reports the run itself
                    print(f"{planned.run_id}: {final.finished}/{final.target} trials finished "
                          f"({final.complete} complete, {final.pruned} pruned, {final.failed} failed)", flush=True)
    if incomplete:
        raise typer.Exit(1)


def _as_study(planned: Any, study_name: str) -> Any:
    """``planned`` pointed at another study name (whose spec hash is then checked)."""
    import dataclasses

    return dataclasses.replace(planned, run_id=study_name)
