"""Trials per hour with 1 and 2 local workers on tiny CPU models, side by side in one run.

Runs the same tiny search (built-in synthetic faces, two kept stages, a few
epochs) with `runtime.workers: 1` and `runtime.workers: 2` (`devices: cpu`),
each from a fresh results folder, the two interleaved `--repeats` times, and
prints trials per hour for both and their ratio:

* end to end: the spec's trials over the command's wall time (Python and
  TensorFlow start-up, data, the study, every worker);
* steady: the trials over the span from the first trial's start to the last
  one's end, as the records say (start-up left out).

It also times the sampler: TPE with the constant liar, one suggestion of two
parameters against a study of 50 finished and 2 running trials, the per-trial
cost that grows with the study (see docs/scaling.md).

    python benchmarks/perf/scaling.py [--trials 8] [--epochs 2] [--train 400] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SPEC = """\
ferbench: 1
name: scaling
seed: 11
results: {results}
dataset:
  kind: synthetic
  image_size: 32
  synthetic: {{train: {train}, validation: 112, test: 112, imbalance: balanced}}
augment: {{enabled: true}}
model: {{stages: [0, 1], depth: 0.25, dropout: 0.1, top_filters: 32}}
train: {{batch_size: 32, max_epochs: {epochs}, early_stopping: null}}
search:
  trials: {trials}
  sampler: {{name: random}}
  space:
    learning_rate: {{float: [1.0e-3, 1.0e-2], log: true}}
    width: {{float: [0.25, 0.5], step: 0.05}}
runtime: {{devices: cpu, workers: {workers}}}
"""


def _utc(s: str) -> float:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").timestamp()


def one_run(folder: Path, workers: int, args: argparse.Namespace) -> tuple[float, float]:
    """(end-to-end trials/hour, steady trials/hour) of one fresh run."""
    results = folder / f"results-{workers}-{time.monotonic_ns()}"
    spec = folder / f"scaling-{workers}.yaml"
    spec.write_text(SPEC.format(results=results, train=args.train, epochs=args.epochs, trials=args.trials, workers=workers))
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("FERBENCH_STORAGE", None)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ferbench", "run", str(spec), "--quiet"], cwd=folder, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    records = [json.loads(p.read_text()) for p in results.glob("scaling/*/trials/*/record.json")]
    assert len(records) == args.trials, f"{len(records)} records, expected {args.trials}"
    span = max(_utc(r["finished"]) for r in records) - min(_utc(r["started"]) for r in records)
    return 3600.0 * args.trials / wall, 3600.0 * args.trials / max(span, 1.0)


def sampler_ms(history: int = 50, running: int = 2, repeats: int = 20) -> float:
    """Milliseconds of one TPE (constant liar) suggestion of two parameters."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = optuna.samplers.TPESampler(seed=1, constant_liar=True, multivariate=False, n_startup_trials=10)
    study = optuna.create_study(sampler=sampler)

    def ask() -> optuna.trial.Trial:
        t = study.ask()
        t.suggest_float("learning_rate", 1e-3, 1e-2, log=True)
        t.suggest_float("width", 0.25, 0.5, step=0.05)
        return t

    for _ in range(history):
        t = ask()
        study.tell(t, t.params["learning_rate"] * 100 + t.params["width"])
    for _ in range(running):
        ask()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        t = ask()
        times.append(time.perf_counter() - t0)
        study.tell(t, state=optuna.trial.TrialState.FAIL)
    return 1000.0 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--train", type=int, default=400, help="synthetic training images")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    got: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="ferbench-scaling-") as tmp:
        for _ in range(args.repeats):  # interleaved, so drift hits both alike
            for n in (1, 2):
                got[n].append(one_run(Path(tmp), n, args))
    print(f"{args.trials} trials x {args.epochs} epochs, {args.train} synthetic 32x32 images, stages [0, 1], "
          f"{os.cpu_count()} CPU cores, median of {args.repeats}")
    print(f"{'workers':>7s} {'trials/h end to end':>20s} {'trials/h steady':>16s}")
    med = {n: (statistics.median(e for e, _ in v), statistics.median(s for _, s in v)) for n, v in got.items()}
    for n, (e, s) in med.items():
        print(f"{n:7d} {e:20.0f} {s:16.0f}")
    print(f"{'2 / 1':>7s} {med[2][0] / med[1][0]:20.2f} {med[2][1] / med[1][1]:16.2f}")
    print(f"\nTPE (constant liar) suggestion, 50 finished + 2 running trials: {sampler_ms():.1f} ms")


if __name__ == "__main__":
    main()
