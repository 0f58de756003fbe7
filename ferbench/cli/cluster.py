"""``ferbench submit`` (a run's workers as a SLURM array or a Kubernetes Indexed Job) and ``ferbench status``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from ferbench.cli.common import SET_OPTION, load
from ferbench.errors import FerbenchError


def submit(
    spec: Path = typer.Argument(..., help="The spec file."),
    sets: list[str] | None = SET_OPTION,
    use_slurm: bool = typer.Option(False, "--slurm", help="Submit a SLURM job array with sbatch."),
    use_kubernetes: bool = typer.Option(False, "--kubernetes", help="Write a Kubernetes Indexed Job manifest (not applied)."),
    tasks: int = typer.Option(2, "--tasks", "-n", min=1, help="Array tasks (SLURM) or pods (Kubernetes)."),
    gpus_per_task: int = typer.Option(0, "--gpus-per-task", min=0, help="GPUs per task; one worker per GPU."),
    cpus_per_task: int | None = typer.Option(None, "--cpus-per-task", min=1, help="CPUs per task (SLURM)."),
    partition: str | None = typer.Option(None, "--partition", "-p", help="SLURM partition."),
    account: str | None = typer.Option(None, "--account", "-A", help="SLURM account."),
    time: str | None = typer.Option(None, "--time", "-t", help="Time limit per task, HH:MM:SS or D-HH:MM:SS."),
    extra: list[str] | None = typer.Option(None, "--extra", help="One more '#SBATCH ...' line, verbatim. Repeatable."),
    requeue: bool = typer.Option(False, "--requeue", help="A task stopped by its time limit or pre-empted goes back to the queue."),
    signal_s: int = typer.Option(120, "--signal-s", min=1, help="Seconds before the time limit at which tasks stop at a safe point."),
    run_id: str | None = typer.Option(None, "--run", metavar="RUN_ID", help="The run of the plan to submit (a spec with several)."),
    storage: str | None = typer.Option(None, "--storage",
                                       help="The study's storage URL (default: $FERBENCH_STORAGE, runtime.storage, else a journal file in the run folder)."),
    storage_file: Path | None = typer.Option(None, "--storage-file", help="A file (mode 600) holding the storage URL, for the tasks to read."),
    image: str | None = typer.Option(None, "--image", help="Kubernetes: the container image with ferbench installed."),
    secret: str = typer.Option("ferbench-storage", "--secret", help="Kubernetes: the Secret whose key 'url' holds the storage URL."),
    workdir: str = typer.Option("/app", "--workdir", help="Kubernetes: the pods' working directory (the parent of results/)."),
    logs: Path | None = typer.Option(None, "--logs", help="SLURM: the folder of the tasks' output files, which the compute nodes "
                                     "must see (default: the run folder's jobs/; give a shared one when results: is node-local)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the script or manifest; write and submit nothing."),
) -> None:
    """Run a spec's workers as a batch job: a SLURM array (sbatch) or a Kubernetes Indexed Job manifest.

    The storage password is never in the script, the job's command line or its
    environment: the tasks read the URL from a file only you can read.
    """
    from ferbench.cluster.jobs import JobRequest
    from ferbench.cluster.submit import KubernetesOptions, submit_spec

    if use_slurm == use_kubernetes:
        raise FerbenchError("say where to submit: --slurm or --kubernetes (one of them)")
    if use_kubernetes and not image:
        raise FerbenchError("--kubernetes needs --image IMAGE: a container image with ferbench installed")
    req = JobRequest(tasks=tasks, gpus_per_task=gpus_per_task, cpus_per_task=cpus_per_task, partition=partition,
                     account=account, time=time, requeue=requeue, signal_s=signal_s, extra=tuple(extra or ()))
    k8s = KubernetesOptions(image=str(image), secret=secret, workdir=workdir) if use_kubernetes else None
    planned, done = submit_spec(load(spec, sets), spec, tuple(sets or ()), req, run_id=run_id, storage=storage,
                                storage_file=storage_file, logs=logs, k8s=k8s, dry_run=dry_run)
    if dry_run:
        sys.stdout.write(done.text)
        return
    what = f"submitted job {done.job}" if done.job else "wrote the manifest (apply it with kubectl apply -f)"
    print(f"{planned.run_id}: {what}: {done.file}; `ferbench status {planned.results_dir}` shows where it stands")


def status(
    run: Path = typer.Argument(..., metavar="RUN_DIR", help="The run folder (results/<name>/<run id>)."),
    storage: str | None = typer.Option(None, "--storage", help="The study's storage URL (default: the job's storage file, $FERBENCH_STORAGE)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    """Where a run stands: its job's tasks, the study's trials (complete, running, failed, left), the best so far, an ETA."""
    from ferbench.cli.worker import redacted_errors
    from ferbench.cluster.status import render_table, run_state

    with redacted_errors(storage):
        state = run_state(run, storage)
    print(json.dumps(state.to_dict(), indent=2) if as_json else render_table(state))
