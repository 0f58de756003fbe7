"""Stress: SIGTERM a `ferbench run` at random moments, then resume it; every stop must be clean.

Not collected by pytest (minutes of training). Run from the repository root:

    python tests/stress/sigterm_at_random_moments.py --runs 15 --max-delay 2

Each run trains a tiny 2-trial search on the built-in synthetic data, sends SIGTERM
0..max-delay seconds after trial 0's first epoch (during training, validation,
scoring, Optuna's bookkeeping or the next trial), expects exit 130 (or 0 when the
run had already finished), resumes with the same command and expects exit 0 with
both trials complete. Exit status: the number of runs that broke a rule.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "run"))

from runspecs import write_spec  # noqa: E402


def one(folder: Path, delay: float, env: dict[str, str]) -> str | None:
    """One stop and resume; the broken rule, or None."""
    spec = write_spec(folder, name="termed", trials=2, epochs=2)
    cmd = [sys.executable, "-m", "ferbench", "run", str(spec)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=folder)
    assert proc.stdout is not None and proc.stderr is not None
    for line in proc.stdout:
        if " trial 0 epoch 1/" in line:
            time.sleep(delay)
            proc.send_signal(signal.SIGTERM)
            break
    proc.wait(timeout=300)
    err = proc.stderr.read()
    if proc.returncode not in (130, 0):
        return f"stopped with exit {proc.returncode}:\n{err[-3000:]}"
    again = subprocess.run([*cmd, "--quiet"], capture_output=True, text=True, env=env, cwd=folder, timeout=600)
    if again.returncode != 0:
        return f"resume exit {again.returncode}:\n{again.stderr[-3000:]}"
    [run_json] = (folder / "results" / "termed").glob("*/run.json")
    trials = json.loads(run_json.read_text())["trials"]
    return None if trials["complete"] == 2 else f"after resume: {trials}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--max-delay", type=float, default=2.0, help="seconds after trial 0's first epoch")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    broken = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            delay = rng.uniform(0, args.max_delay)
            folder = Path(tmp) / f"r{i}"
            folder.mkdir()
            problem = one(folder, delay, env)
            broken += problem is not None
            print(f"run {i}: SIGTERM {delay:.2f}s after epoch 1: {'ok' if problem is None else problem}", flush=True)
    print(f"{args.runs - broken}/{args.runs} stopped cleanly and resumed")
    return broken


if __name__ == "__main__":
    sys.exit(main())
