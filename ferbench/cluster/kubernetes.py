"""Kubernetes: an Indexed Job whose pods are the run's workers (written, never applied).

Each pod runs ``ferbench worker SPEC --run RUN --create --index $(JOB_COMPLETION_INDEX)``.
The storage URL comes from a Secret the user creates (its name only is in the
manifest), mounted as a file readable only by the pod's user; the spec comes from a
ConfigMap holding the spec file's text.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from ferbench.cluster.jobs import JOB_VAR, STORAGE_FILE_VAR, JobRequest
from ferbench.errors import FerbenchError

SECRET_DIR = "/var/run/secrets/ferbench"
SPEC_DIR = "/etc/ferbench/spec"


def k8s_name(text: str) -> str:
    """A DNS-1123 name (lower case, digits, '-', at most 63 characters)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].rstrip("-")
    if not name:
        raise FerbenchError(f"{text!r}: no Kubernetes name can be made of it")
    return name


def _container(req: JobRequest, *, image: str, spec_file: str, run_id: str, sets: tuple[str, ...],
               job: str, workdir: str) -> dict[str, Any]:
    args = ["worker", f"{SPEC_DIR}/{spec_file}", "--run", run_id, "--create", "--index", "$(JOB_COMPLETION_INDEX)"]
    for s in sets:
        args += ["--set", s]
    container: dict[str, Any] = {
        "name": "worker", "image": image, "workingDir": workdir,
        "command": ["python", "-m", "ferbench"], "args": args,
        "env": [{"name": STORAGE_FILE_VAR, "value": f"{SECRET_DIR}/url"}, {"name": JOB_VAR, "value": f"kubernetes:{job}"}],
        "volumeMounts": [{"name": "storage", "mountPath": SECRET_DIR, "readOnly": True},
                         {"name": "spec", "mountPath": SPEC_DIR, "readOnly": True}],
    }
    if req.gpus_per_task:
        container["resources"] = {"limits": {"nvidia.com/gpu": req.gpus_per_task}}
    return container


def manifest(req: JobRequest, *, image: str, spec_file: str, spec_text: str, run_id: str, spec_name: str,
             sets: tuple[str, ...] = (), workdir: str = "/app", secret: str = "ferbench-storage") -> str:
    """The ConfigMap with the spec and the Indexed Job, as one YAML stream."""
    job = k8s_name(f"ferbench-{spec_name}-{run_id}")
    labels = {"app.kubernetes.io/name": "ferbench", "ferbench/run": run_id}
    config_name = k8s_name(f"{job[:58]}-spec")
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": config_name, "labels": labels},
              "data": {spec_file: spec_text}}
    pod = {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "containers": [_container(req, image=image, spec_file=spec_file, run_id=run_id, sets=sets, job=job,
                                      workdir=workdir)],
            "volumes": [{"name": "storage", "secret": {"secretName": secret, "items": [{"key": "url", "path": "url"}],
                                                       "defaultMode": 0o400}},
                        {"name": "spec", "configMap": {"name": config_name}}],
        },
    }
    body: dict[str, Any] = {"completions": req.tasks, "parallelism": req.tasks, "completionMode": "Indexed",
                            "backoffLimitPerIndex": 20 if req.requeue else 3, "maxFailedIndexes": req.tasks, "template": pod}
    if req.time:
        body["activeDeadlineSeconds"] = _seconds(req.time)
    job_doc = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": job, "labels": labels}, "spec": body}
    return yaml.safe_dump_all([config, job_doc], sort_keys=False, width=1000)


def _seconds(hms: str) -> int:
    days, _, rest = hms.rpartition("-")
    h, m, s = (int(x) for x in rest.split(":"))
    return ((int(days) if days else 0) * 24 + h) * 3600 + m * 60 + s
