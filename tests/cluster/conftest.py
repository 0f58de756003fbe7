"""Fixtures of the cluster tests: a live single-node SLURM cluster, PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from cluster_helpers import REPO


def _slurm_answers() -> bool:
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(s.strip().rstrip("*") in ("idle", "mixed", "allocated") for s in out.splitlines())


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """A live SLURM cluster: one that answers, else the single-node one of .ci/slurm-up (as root); skip otherwise."""
    if shutil.which("sbatch") is None or shutil.which("slurmctld") is None:
        pytest.skip("SLURM is not installed (apt-get install slurm-wlm munge; CI installs it)")
    if _slurm_answers():
        return
    if os.geteuid() != 0:
        pytest.skip("no SLURM cluster answers and starting one (.ci/slurm-up) needs root")
    up = subprocess.run([str(REPO / ".ci" / "slurm-up")], capture_output=True, text=True, timeout=120)
    if up.returncode != 0 or not _slurm_answers():
        pytest.skip(f"could not start a single-node SLURM cluster: {(up.stderr or up.stdout).strip()[-500:]}")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("FERBENCH_TEST_POSTGRES")
    if not url:
        pytest.skip("FERBENCH_TEST_POSTGRES is not set (CI starts a PostgreSQL server and sets it)")
    pytest.importorskip("psycopg")
    return url
