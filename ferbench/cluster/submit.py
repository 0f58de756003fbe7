"""``ferbench submit``: one planned run's workers as a batch job (SLURM array or Kubernetes Indexed Job).

The job's script or manifest goes into the run folder (``jobs/``), with a record of
each submission (``jobs/submitted.json``: what ``ferbench status`` reads before any
worker has started); the job id goes into run.json's ``jobs``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferbench.cluster import kubernetes, slurm
from ferbench.cluster.jobs import JobRequest, Scheduler, WorkerCommand
from ferbench.cluster.secret import job_environment, read_url, store_url, url_file
from ferbench.errors import FerbenchError
from ferbench.plan import PlannedRun, plan_spec
from ferbench.results.atomic import write_json, write_text
from ferbench.results.paths import RunPaths
from ferbench.results.records import utc_now
from ferbench.results.write import add_job
from ferbench.run.search.storage import journal_path, sqlite_path
from ferbench.secrets import hide_password

if TYPE_CHECKING:
    from ferbench.spec.types import Spec

SUBMITTED = "submitted.json"


@dataclass(frozen=True)
class Target:
    """What is submitted: one planned run of a spec file, with the overrides the workers must repeat."""

    spec_file: Path
    sets: tuple[str, ...]
    run: PlannedRun

    @property
    def paths(self) -> RunPaths:
        return RunPaths(self.run.results_dir)


@dataclass(frozen=True)
class Submitted:
    scheduler: Scheduler
    job: str | None  # scheduler:id; None for a dry run or a manifest that is only written
    file: Path | None  # the script or manifest written; None for a dry run
    text: str


@dataclass(frozen=True)
class KubernetesOptions:
    """``--kubernetes``: the image, the Secret holding the storage URL, the pods' working directory."""

    image: str
    secret: str = "ferbench-storage"
    workdir: str = "/app"


def submit_spec(spec: Spec, spec_file: Path, sets: tuple[str, ...], req: JobRequest, *, run_id: str | None, storage: str | None,
                storage_file: Path | None, logs: Path | None, k8s: KubernetesOptions | None,
                dry_run: bool) -> tuple[PlannedRun, Submitted]:
    """Submit one planned run of ``spec``: to SLURM, or (``k8s``) as a Kubernetes manifest written beside the run."""
    from ferbench.run.session import RunSession

    planned = pick_run(plan_spec(spec, gpus=[], storage=storage).runs, run_id, spec_file)
    target = Target(spec_file=spec_file, sets=sets, run=planned)
    if not dry_run:
        RunSession(planned).write_spec()
    if k8s is None:
        return planned, submit_slurm(target, req, storage_file=storage_file, logs=logs, dry_run=dry_run)
    return planned, write_kubernetes(target, req, image=k8s.image, secret=k8s.secret, workdir=k8s.workdir, dry_run=dry_run)


def pick_run(runs: list[PlannedRun], run_id: str | None, spec_file: Path) -> PlannedRun:
    """The one run to submit: the plan's only run, or ``--run``."""
    if run_id is not None:
        for r in runs:
            if r.run_id == run_id:
                return r
        raise FerbenchError(f"no run of {spec_file} has id {run_id}; `ferbench plan {spec_file}` lists them")
    if len(runs) != 1:
        ids = ", ".join(r.run_id for r in runs)
        raise FerbenchError(f"{spec_file} plans {len(runs)} runs ({ids}); submit one at a time with --run RUN_ID")
    return runs[0]


def storage_for(target: Target, storage_file: Path | None, *, write: bool) -> tuple[str | None, Path | None]:
    """``(URL for the command line, storage file)``: a journal file by name, a database through a private file."""
    url = target.run.storage
    if storage_file is not None:
        url = read_url(storage_file)
    if url is None:  # no storage named: a journal file in the run folder (hosts that share the filesystem)
        return f"journal://{target.run.results_dir.resolve() / 'study.journal'}", None
    if sqlite_path(url) is not None:
        raise FerbenchError(f"{hide_password(url)}: SQLite cannot take a job's workers on several hosts; "
                            "use PostgreSQL (--storage postgresql://...) or leave the storage out (a journal file in the run folder)")
    if journal_path(url) is not None:
        return url, None
    if storage_file is not None:
        return None, storage_file.resolve()
    return None, store_url(url, target.run.run_id) if write else url_file(target.run.run_id)


def worker_command(target: Target, storage_url: str | None) -> WorkerCommand:
    return WorkerCommand(python=sys.executable, spec=str(target.spec_file.resolve()), run_id=target.run.run_id,
                         workdir=os.getcwd(), sets=target.sets, storage=storage_url)


def submit_slurm(target: Target, req: JobRequest, *, storage_file: Path | None, logs: Path | None = None,
                 dry_run: bool = False) -> Submitted:
    """Write the job script into the run folder and ``sbatch`` it (or, dry, only return its text).

    ``logs``: where the tasks' output files go (SLURM opens them on the compute node
    and does not create folders); the run folder's ``jobs/`` by default.
    """
    url, file = storage_for(target, storage_file, write=not dry_run)
    name = f"ferbench-{target.run.spec.name}-{target.run.run_id}"
    log_dir = (logs or target.paths.jobs).resolve()
    text = slurm.job_script(req, worker_command(target, url), name=name, logs=log_dir, storage_file=file)
    if dry_run:
        return Submitted("slurm", None, None, text)
    target.paths.jobs.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    script = write_text(target.paths.jobs / "slurm.sh", text)
    secret = read_url(storage_file) if storage_file is not None else target.run.storage
    job = f"slurm:{slurm.submit(script, job_environment(os.environ, secret))}"
    _record(target, job, req, script, storage=url or secret, storage_file=file)
    return Submitted("slurm", job, script, text)


def write_kubernetes(target: Target, req: JobRequest, *, image: str, secret: str, workdir: str, dry_run: bool) -> Submitted:
    """Write the Indexed Job manifest into the run folder (never applied)."""
    if target.run.storage is None or journal_path(target.run.storage) or sqlite_path(target.run.storage):
        raise FerbenchError("--kubernetes: pods share only a database; give the study's storage "
                            "(--storage postgresql://..., $FERBENCH_STORAGE or runtime.storage)")
    spec_text = target.spec_file.read_text(encoding="utf-8")
    if re.search(r"(?m)^extends\s*:", spec_text):
        raise FerbenchError(f"{target.spec_file}: --kubernetes puts the spec file alone into a ConfigMap, and this one extends others; "
                            "merge its bases into it (one self-contained file) and submit that")
    text = kubernetes.manifest(req, image=image, spec_file=target.spec_file.name, spec_text=spec_text,
                               run_id=target.run.run_id, spec_name=target.run.spec.name, sets=target.sets, workdir=workdir, secret=secret)
    if dry_run:
        return Submitted("kubernetes", None, None, text)
    target.paths.jobs.mkdir(parents=True, exist_ok=True)
    return Submitted("kubernetes", None, write_text(target.paths.jobs / "kubernetes.yaml", text), text)


def _record(target: Target, job: str, req: JobRequest, script: Path, *, storage: str | None, storage_file: Path | None) -> None:
    """Note the submission in ``jobs/submitted.json`` and run.json (when there is one yet)."""
    log = target.paths.jobs / SUBMITTED
    earlier: list[Any] = json.loads(log.read_text(encoding="utf-8")) if log.exists() else []
    entry = {"job": job, "submitted": utc_now(), "tasks": req.tasks, "workers": req.workers, "script": script.name,
             "storage": hide_password(storage) if storage else None,
             "storage_file": None if storage_file is None else str(storage_file)}
    write_json(log, [*earlier, entry])
    add_job(target.paths, job)


def submissions(paths: RunPaths) -> list[dict[str, Any]]:
    """Every submission of the run folder, oldest first."""
    log = paths.jobs / SUBMITTED
    if not log.exists():
        return []
    data = json.loads(log.read_text(encoding="utf-8"))
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
