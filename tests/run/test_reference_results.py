"""The committed reference results (results/reference/) still reproduce.

Every run folder there is verified by the real command line, ``ferbench verify
--trial all``, in a fresh process, so any change that alters numerics fails here.
Exactly where the environment is the one the references were made in; on another
machine or with other package versions ``verify`` refuses an exact comparison
(exit 2, naming what differs) and the check runs again with ``REFERENCE_TOLERANCE``,
far above the float32 rounding seen across CPUs and far below what a change of
the code does (docs/reproducibility.md has the numbers).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("optuna")

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "results" / "reference"
REFERENCE_TOLERANCE = "1e-4"


def _run_folders() -> list[Path]:
    return sorted(p.parent for p in REFERENCE.glob("*/*/run.json") if not any(s.startswith(".") for s in p.parts))


def _verify(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "ferbench", "verify", "--trial", "all", *args],
                          capture_output=True, text=True, timeout=900, cwd=REPO, env=env)


def test_reference_specs_and_results_belong_together() -> None:
    import yaml

    folders = _run_folders()
    assert len(folders) >= 2, "results/reference/ holds no reference runs"
    specs = {yaml.safe_load(p.read_text())["name"] for p in (REPO / "benchmarks" / "reference").glob("*.yaml")}
    assert {f.parent.name for f in folders} == specs
    for folder in folders:  # what verify reads is there; what it does not read is not committed
        assert (folder / "spec.resolved.yaml").is_file() and list(folder.glob("trials/*/record.json"))


#: ``verify``'s one line for a folder it refuses to compare exactly here (another environment than the recorded one).
REFUSED = re.compile(r"^cannot verify (\S+): (package versions differ|machine differs)", re.MULTILINE)


def test_reference_results_reproduce() -> None:
    """Exactly where a folder's environment is this one; the folders ``verify`` refuses for that, within the tolerance.

    The references were made on more than one machine, so some folders usually compare exactly and some
    are refused: only the refused ones go to the second, tolerant ``verify`` (each folder is retrained once).
    """
    folders = [str(f.relative_to(REPO)) for f in _run_folders()]
    proc = _verify(*folders)
    refused = REFUSED.findall(proc.stderr)
    if refused:  # refused before any retraining; any other reason not to verify fails below
        assert proc.returncode == 2 and proc.stderr.count("cannot verify ") == len(refused), proc.stdout[-6000:] + proc.stderr[-3000:]
        again = _verify("--tolerance", REFERENCE_TOLERANCE, *(f for f, _ in refused))
        assert again.returncode == 0, again.stdout[-6000:] + again.stderr[-3000:]
        assert all(f"ok  {f}: " in again.stdout and f"within {float(REFERENCE_TOLERANCE):g}" in again.stdout for f, _ in refused), again.stdout
    else:
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    exact = [f for f in folders if f not in {f for f, _ in refused}]
    assert all(f"ok  {f}: " in proc.stdout for f in exact), proc.stdout
    assert proc.stdout.count("ok  ") == len(exact) and proc.stdout.count(" reproduced exactly ") == len(exact), proc.stdout


def test_ci_example_validates_specs_and_verifies_references() -> None:
    import yaml

    workflow = yaml.safe_load((REPO / "docs" / "ci-example.yml").read_text())
    check = workflow["jobs"]["check"]
    script = "\n".join(str(step.get("run", "")) for step in check["steps"])
    assert "ferbench validate benchmarks/*.yaml" in script
    assert "ferbench verify --trial all results/reference/*/*/" in script
    assert f"--tolerance {REFERENCE_TOLERANCE} results/reference/*/*/" in script  # the same tolerance as here
    assert check["timeout-minutes"] <= 20
