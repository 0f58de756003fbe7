"""CLI start-up: wall time of `ferbench validate` beside `python -c "import tensorflow"`.

`validate`, `plan`, `schema`, `new` and `report` never import TensorFlow or Optuna, so
they should start in a fraction of TensorFlow's import time. Target: validate <= 0.5 s.

    python benchmarks/perf/cli_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    cases = {
        "python -c pass (interpreter)": [sys.executable, "-c", "pass"],
        "ferbench validate quickstart.yaml": [sys.executable, "-m", "ferbench", "validate", "benchmarks/quickstart.yaml"],
        "ferbench validate benchmarks/*.yaml": [sys.executable, "-m", "ferbench", "validate", *map(str, sorted((REPO / "benchmarks").glob("*.yaml")))],
        "ferbench plan scaled_fer2013.yaml": [sys.executable, "-m", "ferbench", "plan", "benchmarks/scaled_fer2013.yaml"],
        'python -c "import tensorflow"': [sys.executable, "-c", "import tensorflow"],
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.repeats):  # interleaved, so drift hits every case alike
        for name, cmd in cases.items():
            times[name].append(wall(cmd))
    print(f"{'command':40s} {'median s':>9s} {'min s':>7s}")
    for name, ts in times.items():
        print(f"{name:40s} {statistics.median(ts):9.3f} {min(ts):7.3f}")
    v = statistics.median(times["ferbench validate quickstart.yaml"])
    tf = statistics.median(times['python -c "import tensorflow"'])
    print(f"\nvalidate / import tensorflow = {v / tf:.2f}   target validate <= 0.5 s: {'met' if v <= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
