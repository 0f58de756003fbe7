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
from collections.abc import Iterator
from pathlib import Path

import typer

from ferbench.cli.common import SET_OPTION, load
from ferbench.cluster.secret import url_from_environment
from ferbench.errors import FerbenchError
from ferbench.run.signals import signals_as_interrupt
from ferbench.secrets import redact, remember


def watch_parent(parent: int) -> None:
    """Stop this worker (as SIGTERM would) when the ``ferbench run`` that started it is gone."""
    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="ferbench-parent-watch", daemon=True).start()


@contextlib.contextmanager
def redacted_errors(url: str | None) -> Iterator[None]:
    """Unexpected errors leave with their traceback, but never with a storage password.

    ``url`` and every storage URL the command planned or opened are hidden
    (:func:`ferbench.secrets.redact`).
    """
    remember(url)
    try:
        yield
    except (FerbenchError, KeyboardInterrupt, typer.Exit, SystemExit):
        raise
    except Exception as exc:
        from ferbench.run.search.storage_failure import storage_failure

        failure = storage_failure(exc, url)  # the study's disk refused a write: one line naming it
        if failure is not None:
            raise failure from None
        sys.stderr.write(redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))))
        raise typer.Exit(1) from None


def worker(
    spec: Path = typer.Argument(..., metavar="SPEC_OR_RUN_DIR",
                                help="The spec file (its hash must match the study's), or a run folder (its spec.resolved.yaml)."),
    sets: list[str] | None = SET_OPTION,
    storage: str | None = typer.Option(None, "--storage", help="The study's Optuna storage URL (postgresql://..., journal:///path; $FERBENCH_STORAGE)."),
    run_id: str | None = typer.Option(None, "--run", metavar="RUN_ID", help="Only this run id of the plan (default: every run, in order)."),
    create: bool = typer.Option(False, "--create", help="Create the study when the storage has none (e.g. every task of a SLURM array)."),
    index: int | None = typer.Option(None, "--index", min=0, help="This worker's index (e.g. $SLURM_ARRAY_TASK_ID): seeds its sampler stream."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines."),
    slot: str | None = typer.Option(None, "--slot", hidden=True),
    managed: bool = typer.Option(False, "--managed", hidden=True),
    parent: int | None = typer.Option(None, "--parent-pid", hidden=True),
    timeout_s: float | None = typer.Option(None, "--timeout-s", hidden=True),
) -> None:
    """Join a run's study (from any host) and train its trials until the study holds the spec's number.

    Exit status: 0 when the study is done with a complete trial, 1 when it has none,
    2 on a spec, storage or results problem (a study made from a different spec is
    refused), 130 when interrupted (the running trial is re-queued for another worker).
    """
    from ferbench.run.progress import PlainReporter, Reporter
    from ferbench.run.search.join import WorkerOptions, join_run, worker_sessions

    if slot is not None and slot not in ("cpu", "gpu"):
        raise FerbenchError(f"--slot {slot}: expected cpu or gpu")
    url = storage or url_from_environment()  # $FERBENCH_STORAGE, or the file a batch job's script names
    reporter = Reporter() if quiet else PlainReporter(tag=None if index is None else f"w{index}")
    with redacted_errors(url):
        if spec.is_dir() and sets:
            raise FerbenchError(f"{spec}: a run folder's spec is fixed; --set applies to spec files")
        sessions = worker_sessions(spec if spec.is_dir() else load(spec, sets), reporter, storage=url, run_id=run_id)
        if parent is not None:
            watch_parent(parent)
        opts = WorkerOptions(create=create, index=index, slot=slot, managed=managed, timeout_s=timeout_s)
        incomplete = False
        with signals_as_interrupt((signal.SIGINT, signal.SIGTERM), once=True):
            for i, session in enumerate(sessions, 1):
                final = join_run(session, opts, index=i, total=len(sessions))
                incomplete |= final is None or final.complete == 0
                if not quiet and not managed and final is not None:  # a supervising `ferbench run` reports the run itself
                    print(f"{session.run_id}: {final.finished}/{final.target} trials finished "
                          f"({final.complete} complete, {final.pruned} pruned, {final.failed} failed)", flush=True)
    if incomplete:
        raise typer.Exit(1)
