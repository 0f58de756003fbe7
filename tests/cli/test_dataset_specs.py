"""The specs of the datasets of recent FER papers validate and plan without TensorFlow
or Optuna, with the runs they promise (four training sets, ten subject folds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = (
    "import contextlib, io, json, sys; from ferbench.cli.main import main; rc, runs = 0, {}\n"
    "for spec in sys.argv[1:]:\n"
    "    out = io.StringIO()\n"
    "    with contextlib.redirect_stdout(out):\n"
    "        rc |= main(['validate', spec])\n"
    "    plan = io.StringIO()\n"
    "    with contextlib.redirect_stdout(plan):\n"
    "        rc |= main(['plan', spec, '--json'])\n"
    "    runs[spec.rsplit('/', 1)[-1]] = len(json.loads(plan.getvalue())['runs']) if 'ok' in out.getvalue() else None\n"
    "heavy = [m for m in ('tensorflow', 'keras', 'optuna') if m in sys.modules]\n"
    "print(json.dumps({'heavy': heavy, 'runs': runs})); sys.exit(rc)"
)
SPECS = ("rafdb", "affectnet8", "ckplus_10fold", "cross_dataset")


def test_new_dataset_specs_validate_and_plan_without_tensorflow(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "FERBENCH_DATA": str(tmp_path / "nowhere")}
    r = subprocess.run([sys.executable, "-c", PROBE, *(str(REPO / "benchmarks" / f"{s}.yaml") for s in SPECS)],
                       env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["heavy"] == []
    assert got["runs"] == {"rafdb.yaml": 1, "affectnet8.yaml": 1, "ckplus_10fold.yaml": 10, "cross_dataset.yaml": 4}


def test_classes_seven_or_eight_is_short_for_the_class_lists(tmp_path):
    from ferbench.spec import load_spec
    from ferbench.spec.types import FER2013_CLASSES

    spec = load_spec(REPO / "benchmarks" / "affectnet8.yaml", env={"FERBENCH_DATA": str(tmp_path)})
    assert spec.dataset.classes == (*FER2013_CLASSES, "contempt")
    seven = tmp_path / "seven.yaml"
    seven.write_text(f"ferbench: 1\nname: s\ndataset: {{kind: affectnet, path: {tmp_path}, classes: 7}}\n")
    assert load_spec(seven).dataset.classes == FER2013_CLASSES
