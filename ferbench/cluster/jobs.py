"""What a submission asks for, the worker command each task runs, and the job a worker belongs to.

Light: no TensorFlow, no Optuna, no scheduler client.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from typing import Literal

from ferbench.errors import FerbenchError

Scheduler = Literal["slurm", "kubernetes"]

#: Set by a job's script for its workers: the job they belong to, ``scheduler:id`` (recorded in run.json's ``jobs``).
JOB_VAR = "FERBENCH_JOB"
#: Set by a job's script for its workers: a file holding the storage URL, readable only by its owner.
STORAGE_FILE_VAR = "FERBENCH_STORAGE_FILE"

_JOB = re.compile(r"^(slurm|kubernetes):[^\s]+$")
_TIME = re.compile(r"^(\d+-)?\d{1,3}:\d{2}:\d{2}$")


@dataclass(frozen=True)
class JobRequest:
    """The resources and behaviour of a job: ``ferbench submit``'s options."""

    tasks: int = 2
    gpus_per_task: int = 0
    cpus_per_task: int | None = None
    partition: str | None = None
    account: str | None = None
    time: str | None = None  # HH:MM:SS or D-HH:MM:SS
    requeue: bool = False
    signal_s: int = 120  # the stop signal comes this long before the time limit
    extra: tuple[str, ...] = ()  # more "#SBATCH ..." lines, verbatim

    def __post_init__(self) -> None:
        if self.tasks < 1:
            raise FerbenchError(f"--tasks {self.tasks}: a job needs at least one task")
        if self.gpus_per_task < 0:
            raise FerbenchError(f"--gpus-per-task {self.gpus_per_task}: expected 0 or more")
        if self.time is not None and not _TIME.match(self.time):
            raise FerbenchError(f"--time {self.time!r}: expected HH:MM:SS or D-HH:MM:SS (e.g. 24:00:00)")
        for line in self.extra:
            if not line.startswith("#SBATCH ") or "\n" in line:
                raise FerbenchError(f"--extra {line!r}: expected one line starting with '#SBATCH ' (e.g. '#SBATCH --qos=long')")

    @property
    def workers_per_task(self) -> int:
        """One worker per GPU; one worker on a task without GPUs."""
        return max(self.gpus_per_task, 1)

    @property
    def workers(self) -> int:
        return self.tasks * self.workers_per_task


@dataclass(frozen=True)
class WorkerCommand:
    """The ``ferbench worker`` command of every task (without its ``--index``, which each task adds)."""

    python: str  # the interpreter that runs ferbench (the submitting one: same environment)
    spec: str  # absolute path of the spec file
    run_id: str
    workdir: str  # the tasks' working directory (relative results: paths resolve from here)
    sets: tuple[str, ...] = ()
    storage: str | None = None  # a URL without a password (a journal file); else the storage file is used

    def argv(self) -> list[str]:
        args = [self.python, "-m", "ferbench", "worker", self.spec, "--run", self.run_id, "--create"]
        for s in self.sets:
            args += ["--set", s]
        if self.storage:
            args += ["--storage", self.storage]
        return args

    def shell(self) -> str:
        return " ".join(shlex.quote(a) for a in self.argv())


def job_of_this_process(env: dict[str, str] | None = None) -> tuple[str, ...]:
    """The job this worker runs in (``$FERBENCH_JOB``, set by a job's script), as run.json's ``jobs`` holds it."""
    value = (os.environ if env is None else env).get(JOB_VAR, "").strip()
    if not value:
        return ()
    if not _JOB.match(value):
        raise FerbenchError(f"${JOB_VAR}={value!r}: expected scheduler:id (slurm:4711 or kubernetes:NAME)")
    return (value,)


def parse_job(value: str) -> tuple[Scheduler, str]:
    """``slurm:4711`` -> ``("slurm", "4711")``."""
    if not _JOB.match(value):
        raise FerbenchError(f"job {value!r}: expected scheduler:id (slurm:4711 or kubernetes:NAME)")
    scheduler, _, ident = value.partition(":")
    return ("slurm" if scheduler == "slurm" else "kubernetes"), ident
