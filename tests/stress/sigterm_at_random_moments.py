"""Stress: SIGTERM or SIGINT a `ferbench run` at random moments, fresh and resumed; every stop must be clean.

Not collected by pytest (minutes of training). Run from the repository root:

    python tests/stress/sigterm_at_random_moments.py --runs 20 --max-delay 2 --max-resume-delay 30

Each run trains a tiny search (--trials, --epochs) on the built-in synthetic data and is
stopped 1 + --resumed-stops times, each time by SIGTERM or SIGINT (Ctrl-C), chosen at random:

1. the fresh run, 0..max-delay seconds after trial 0's first epoch (during training,
   validation, scoring, Optuna's bookkeeping or the next trial);
2. the same command started again (a resumed run; --resumed-stops times), 1..max-resume-delay seconds after
   it started: while Python, TensorFlow and the data load, while the study is
   reconciled with the records, or while a trial runs. (Not earlier: until the
   interpreter has started and runs ferbench's first line, about 0.5 s, a signal
   meets the interpreter's default action; no program can handle it there.)

A stopped run must exit 130 with the one-line "interrupted" message (0 only when it
had already finished); no finished record may change (SHA-256 of every record.json
before and after each start); a last start must finish with exit 0 and exactly the
planned trials complete. Exit status: the number of runs that broke a rule.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "run"))

from runspecs import write_spec  # noqa: E402

SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}


@dataclass
class Tally:
    """What the deliveries did, over all runs."""

    delivered: dict[str, int] = field(default_factory=dict)  # "fresh SIGTERM" -> signals sent while running
    late: int = 0  # signals that found the run finished (exit 0): not counted as deliveries
    records_checked: int = 0  # finished records whose hash was compared after a later start


def record_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every trial's record.json under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.glob("results/*/*/trials/*/record.json"))}


def stop(cmd: list[str], folder: Path, env: dict[str, str], sig: signal.Signals, *, after_line: str | None,
         delay: float) -> tuple[int, str, bool]:
    """Start ``cmd``; send ``sig`` ``delay`` s after ``after_line`` (or after the start); ``(exit, stderr, sent while running)``."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=folder)
    assert proc.stdout is not None and proc.stderr is not None
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read() if proc.stderr else ""), daemon=True)
    reader.start()
    start = time.monotonic()
    if after_line is None:
        threading.Thread(target=lambda: [line for line in proc.stdout or ()], daemon=True).start()
        time.sleep(max(0.0, delay - (time.monotonic() - start)))
    else:
        for line in proc.stdout:
            if after_line in line:
                time.sleep(delay)
                break
        threading.Thread(target=lambda: [line for line in proc.stdout or ()], daemon=True).start()
    running = proc.poll() is None
    if running:
        proc.send_signal(sig)
    proc.wait(timeout=600)
    reader.join(timeout=10)
    return proc.returncode, "".join(err), running


def check_stop(rc: int, err: str, running: bool, what: str, tally: Tally) -> str | None:
    if running and rc == 0:  # the signal crossed the run's own end
        tally.late += 1
        return None
    if not running:
        tally.late += 1
        return None if rc == 0 else f"{what}: exit {rc} without a signal:\n{err[-3000:]}"
    tally.delivered[what] = tally.delivered.get(what, 0) + 1
    if rc != 130:
        return f"{what}: exit {rc}, not 130:\n{err[-3000:]}"
    last = err.strip().splitlines()[-1] if err.strip() else ""
    if not last.startswith("interrupted"):
        return f"{what}: exit 130 but the last line is {last!r}, not the 'interrupted' message"
    return None


def changed(before: dict[str, str], after: dict[str, str], tally: Tally) -> str | None:
    tally.records_checked += len(before)
    for name, digest in before.items():
        if after.get(name) != digest:
            return f"finished record {name} changed ({'gone' if name not in after else 'other bytes'})"
    return None


def one(folder: Path, rng: random.Random, args: argparse.Namespace, env: dict[str, str], tally: Tally) -> str | None:
    """Two stops (fresh, then resumed) and a last start; the broken rule, or None."""
    spec = write_spec(folder, name="termed", trials=args.trials, epochs=args.epochs)
    cmd = [sys.executable, "-m", "ferbench", "run", str(spec)]
    stops = [("fresh", " trial 0 epoch 1/", rng.uniform(0, args.max_delay))]
    stops += [("resumed", None, rng.uniform(1.0, args.max_resume_delay)) for _ in range(args.resumed_stops)]
    for kind, line, delay in stops:
        name = rng.choice(sorted(SIGNALS))
        before = record_hashes(folder)
        rc, err, running = stop([*cmd, "--quiet"] if kind == "resumed" else cmd, folder, env, SIGNALS[name],
                                after_line=line, delay=delay)
        problem = check_stop(rc, err, running, f"{kind} {name}", tally) or changed(before, record_hashes(folder), tally)
        print(f"  {kind} run: {name} {delay:.2f}s after {'trial 0 epoch 1' if line else 'the start'}: exit {rc}"
              + ("" if running else " (had finished)"), flush=True)
        if problem:
            return problem
    before = record_hashes(folder)
    again = subprocess.run([*cmd, "--quiet"], capture_output=True, text=True, env=env, cwd=folder, timeout=900)
    if again.returncode != 0:
        return f"last start exit {again.returncode}:\n{again.stderr[-3000:]}"
    problem = changed(before, record_hashes(folder), tally)
    if problem:
        return problem
    [run_json] = (folder / "results" / "termed").glob("*/run.json")
    info = json.loads(run_json.read_text())
    trials, records = info["trials"], len(record_hashes(folder))
    exact = trials["complete"] == args.trials and trials["failed"] == 0 and records == args.trials and info["status"] == "complete"
    return None if exact else f"after the last start: status {info['status']}, {trials}, {records} record(s)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--max-delay", type=float, default=2.0, help="fresh run: seconds after trial 0's first epoch")
    ap.add_argument("--max-resume-delay", type=float, default=30.0, help="resumed run: seconds after its start")
    ap.add_argument("--resumed-stops", type=int, default=1, help="stops of resumed runs per run (each one more start)")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    tally, broken = Tally(), 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            folder = Path(tmp) / f"r{i}"
            folder.mkdir()
            t0 = time.monotonic()
            problem = one(folder, rng, args, env, tally)
            broken += problem is not None
            print(f"run {i}: {'ok' if problem is None else problem} ({time.monotonic() - t0:.0f}s)", flush=True)
    total = sum(tally.delivered.values())
    print(f"{total} signals delivered while running ({', '.join(f'{k}: {v}' for k, v in sorted(tally.delivered.items()))}); "
          f"{tally.late} arrived after the run had finished")
    print(f"{tally.records_checked} finished-record hashes compared after a later start")
    print(f"{args.runs - broken}/{args.runs} runs: every stop exited 130, no finished record changed, "
          f"the last start completed exactly {args.trials} trials")
    return broken


if __name__ == "__main__":
    sys.exit(main())
