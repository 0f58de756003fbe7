"""``ferbench submit --kubernetes``: an Indexed Job manifest, checked against Kubernetes' own Job schema (strict)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cluster_helpers import PASSWORD, REPO, cli

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install 'ferbench[dev]' (kubernetes-validate)")

URL = f"postgresql://alice:{PASSWORD.replace('/', '%2F').replace(':', '%3A').replace('@', '%40')}@postgres.db.svc:5432/optuna"
K8S_VERSION = "1.33.0"


def test_indexed_job_manifest_is_a_valid_kubernetes_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FERBENCH_STORAGE", URL)
    spec = REPO / "benchmarks" / "quickstart.yaml"
    rc, out, err = cli(["submit", str(spec), "--kubernetes", "--image", "registry.example/ferbench:1", "--tasks", "4",
                        "--gpus-per-task", "1", "--time", "2:00:00", "--requeue", "--set", "search.trials=12"], capsys)
    assert rc == 0, err
    [manifest] = (tmp_path / "results" / "quickstart").glob("*/jobs/kubernetes.yaml")
    text = manifest.read_text()
    assert PASSWORD not in text + out + err and "alice" not in text  # the Secret is referenced by name, never written
    docs = list(yaml.safe_load_all(text))
    for doc in docs:  # raises ValidationError on any key or type the Kubernetes API would refuse
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    config, job = docs
    assert [config["kind"], job["kind"], job["apiVersion"]] == ["ConfigMap", "Job", "batch/v1"]
    assert config["data"] == {"quickstart.yaml": spec.read_text()}
    body = job["spec"]
    assert body["completionMode"] == "Indexed" and body["completions"] == body["parallelism"] == 4
    assert body["activeDeadlineSeconds"] == 7200
    pod = body["template"]["spec"]
    [container] = pod["containers"]
    run_id = manifest.parent.parent.name
    assert container["args"] == ["worker", "/etc/ferbench/spec/quickstart.yaml", "--run", run_id, "--create",
                                 "--index", "$(JOB_COMPLETION_INDEX)", "--set", "search.trials=12"]
    assert container["resources"] == {"limits": {"nvidia.com/gpu": 1}}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"FERBENCH_STORAGE_FILE": "/var/run/secrets/ferbench/url", "FERBENCH_JOB": f"kubernetes:{job['metadata']['name']}"}
    secret = next(v for v in pod["volumes"] if "secret" in v)["secret"]
    assert secret["secretName"] == "ferbench-storage" and secret["defaultMode"] == 0o400


def test_a_broken_manifest_is_refused_by_the_same_check() -> None:
    """The check is real: the Job schema refuses what Kubernetes would (an unknown key, a string count)."""
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"},
           "spec": {"completions": "four", "template": {"spec": {"containers": [{"name": "w", "image": "i", "argz": []}]}}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_kubernetes_needs_a_database_and_an_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FERBENCH_STORAGE", raising=False)
    spec = str(REPO / "benchmarks" / "quickstart.yaml")
    rc, _, err = cli(["submit", spec, "--kubernetes", "--image", "i", "--dry-run"], capsys)
    assert rc == 2 and "pods share only a database" in err
    rc, _, err = cli(["submit", spec, "--kubernetes", "--dry-run"], capsys)
    assert rc == 2 and "--image" in err
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {REPO / 'benchmarks' / 'quickstart.yaml'}\nname: child\n")
    monkeypatch.setenv("FERBENCH_STORAGE", URL)
    rc, _, err = cli(["submit", str(child), "--kubernetes", "--image", "i", "--dry-run"], capsys)
    assert rc == 2 and "merge its bases" in err and PASSWORD not in err


def test_the_hand_written_job_in_the_docs_is_valid_too() -> None:
    text = (REPO / "docs" / "scaling.md").read_text()
    block = text.split("with a ReadWriteMany results volume looks like this:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    docs = list(yaml.safe_load_all(block))
    assert [d["kind"] for d in docs] == ["Secret", "Job"]
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
