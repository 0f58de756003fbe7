"""SLURM: the job script of a run's workers, ``sbatch``, and the states of the job's tasks.

The script is an array of ``--tasks`` tasks; each starts one ``ferbench worker`` per
GPU it was given (one on a task without GPUs), all on the run's study. SLURM's
signal before the time limit (``--signal=B:USR1@S``) and ``scancel`` (SIGTERM) are
passed on to the workers as SIGTERM: each stops at its next safe point and gives
its trial back to the study, where another worker re-runs it. With ``--requeue`` a
task stopped by the time limit puts itself back in the queue (``scontrol
requeue``), and SLURM requeues a pre-empted one.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ferbench.cluster.jobs import JOB_VAR, STORAGE_FILE_VAR, JobRequest, WorkerCommand
from ferbench.errors import FerbenchError

_RUN_WORKERS = r"""
IFS=, read -r -a gpus <<< "${CUDA_VISIBLE_DEVICES:-}"
pids=()
for ((k = 0; k < WORKERS_PER_TASK; k++)); do
  if [ "$WORKERS_PER_TASK" -gt 1 ]; then export CUDA_VISIBLE_DEVICES="${gpus[$k]}"; fi
  "${worker[@]}" --index $((SLURM_ARRAY_TASK_ID * WORKERS_PER_TASK + k)) &
  pids+=($!)
done
stop() { kill -TERM "${pids[@]}" 2>/dev/null || true; }
time_up=0
trap 'stop' TERM INT
trap 'time_up=1; stop' USR1
rc=0
for pid in "${pids[@]}"; do
  while kill -0 "$pid" 2>/dev/null; do wait "$pid" || true; done
  wait "$pid"; status=$?
  if [ "$rc" -eq 0 ]; then rc=$status; fi
done
if [ "$time_up" -eq 1 ] && [ "$REQUEUE" -eq 1 ]; then
  echo "ferbench: time limit near; the trials in progress went back to the study; requeueing this task"
  scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
fi
exit "$rc"
"""


def sbatch_lines(req: JobRequest, name: str, logs: Path, workdir: str) -> list[str]:
    """The ``#SBATCH`` header of the job."""
    lines = [f"--job-name={name}", f"--array=0-{req.tasks - 1}", f"--output={logs}/slurm-%A_%a.out", "--open-mode=append",
             f"--chdir={workdir}", "--ntasks=1", f"--signal=B:USR1@{req.signal_s}",
             "--requeue" if req.requeue else "--no-requeue"]
    if req.cpus_per_task:
        lines.append(f"--cpus-per-task={req.cpus_per_task}")
    if req.gpus_per_task:
        lines.append(f"--gres=gpu:{req.gpus_per_task}")
    for opt, value in (("partition", req.partition), ("account", req.account), ("time", req.time)):
        if value:
            lines.append(f"--{opt}={value}")
    return [f"#SBATCH {line}" for line in lines] + list(req.extra)


def job_script(req: JobRequest, cmd: WorkerCommand, *, name: str, logs: Path, storage_file: Path | None) -> str:
    """The whole job script. It names the storage file, never the URL in it."""
    env = [f"export {JOB_VAR}=\"slurm:${{SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}}\"", "unset FERBENCH_STORAGE"]
    if storage_file is not None:
        env.insert(0, f"export {STORAGE_FILE_VAR}={shlex.quote(str(storage_file))}   # the storage URL: a file only you can read")
    head = ["#!/bin/bash", f"# ferbench submit: {req.workers} worker(s) on the study of run {cmd.run_id}",
            *sbatch_lines(req, name, logs, cmd.workdir), "set -uo pipefail", *env,
            f"WORKERS_PER_TASK={req.workers_per_task}", f"REQUEUE={int(req.requeue)}",
            f"worker=({cmd.shell()})"]
    return "\n".join(head) + _RUN_WORKERS


def submit(script: Path, env: Mapping[str, str]) -> str:
    """``sbatch`` the script; the job id."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise FerbenchError("sbatch not found: submit from a SLURM login node, or pass --dry-run to see the script")
    done = subprocess.run([sbatch, "--parsable", str(script)], capture_output=True, text=True, env=dict(env), timeout=120)
    if done.returncode != 0:
        raise FerbenchError(f"sbatch refused {script}: {(done.stderr or done.stdout).strip()}")
    return done.stdout.strip().split(";")[0]


@dataclass(frozen=True)
class TaskState:
    """One array task as SLURM sees it."""

    task: str  # the array index ("0"), or a pending range ("[2-7]")
    state: str  # PENDING, RUNNING, COMPLETED, CANCELLED, ...
    elapsed: str
    where: str  # the node, or why it waits

    def to_dict(self) -> dict[str, str]:
        return {"task": self.task, "state": self.state, "elapsed": self.elapsed, "where": self.where}


def _run(args: list[str]) -> str | None:
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _task_of(job_id: str, ident: str) -> str:
    return ident.split("_", 1)[1] if ident.startswith(f"{job_id}_") else ident


def task_states(job_id: str) -> tuple[list[TaskState], str]:
    """The job's array tasks and where they came from: ``sacct`` where accounting is kept, else ``squeue``."""
    out = _run(["sacct", "-j", job_id, "-X", "-n", "-P", "-o", "JobID,State,Elapsed,NodeList"])
    if out and out.strip():
        rows = [line.split("|") for line in out.strip().splitlines()]
        return [TaskState(_task_of(job_id, r[0]), r[1].split()[0], r[2], r[3]) for r in rows if len(r) >= 4], "sacct"
    out = _run(["squeue", "-j", job_id, "-h", "-r", "--states=all", "-o", "%i|%T|%M|%R"])
    if out is None:
        return [], "unknown to SLURM (squeue and sacct gave nothing)"
    rows = [line.split("|") for line in out.strip().splitlines() if line.strip()]
    tasks = [TaskState(_task_of(job_id, r[0]), r[1], r[2], r[3]) for r in rows if len(r) >= 4]
    return sorted(tasks, key=lambda t: (len(t.task), t.task)), "squeue" if tasks else "no longer known to squeue"
