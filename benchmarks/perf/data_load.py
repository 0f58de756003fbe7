"""FER2013 loading and input-pipeline speed, side by side in one run.

    python benchmarks/perf/data_load.py [PATH]      # PATH: fer2013.csv(.gz|.zip) or its folder
                                                   # default: $FERBENCH_DATA/fer2013

Measures, on the same machine in the same process:
  1. the naive parse users write (pandas.read_csv, then str.split per row) against
     ferbench's first load (parse, hash, duplicate count, cache write);   target >= 3x
  2. ferbench's cached load (median of 3);                                   target <= 0.5 s
  3. the augmenting tf.data pipeline (thesis augmentation, batch 64) against one
     training step of the scaled-down model (width 0.5, depth 0.5, stages 0-4,
     48x48, batch 64), both in images/s;                                    target >= 5x
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from ferbench.data import load_dataset  # noqa: E402
from ferbench.data.probe import fer2013_csv  # noqa: E402
from ferbench.spec.types import FER2013_CLASSES, AugmentSpec, DatasetSpec, Splits, SyntheticSpec  # noqa: E402

THESIS_AUGMENT = AugmentSpec(True, "horizontal", 10, 0.1, 0.1, 0.1, 0.1)
BATCH = 64


def csv_path() -> Path:
    arg = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(os.environ.get("FERBENCH_DATA", "data")) / "fer2013"
    found = fer2013_csv(arg) if arg.exists() else None
    if found is None:
        sys.exit(f"no FER2013 CSV at {arg}; pass its path or set FERBENCH_DATA")
    return found


def naive(path: Path) -> float:
    import pandas as pd

    t = time.perf_counter()
    df = pd.read_csv(path)
    x = np.stack([np.array(s.split(), dtype=np.uint8) for s in df["pixels"]]).reshape(-1, 48, 48, 1)
    assert len(x) == len(df)
    return time.perf_counter() - t


def spec(path: Path, cache: str) -> DatasetSpec:
    return DatasetSpec(
        kind="fer2013", path=str(path), layout="auto", labels=None, image_size=48, color="grayscale",
        classes=FER2013_CLASSES, class_map={}, splits=Splits("Training", "PublicTest", "PrivateTest"),
        on_bad_sample="error", cache=cache, synthetic=SyntheticSpec(2000, 400, 400, "fer2013", 0.08),
    )


def pipeline_rate(x: np.ndarray, y: np.ndarray) -> float:
    from ferbench.data import make_train_dataset

    ds = make_train_dataset(x, y, batch_size=BATCH, augment=THESIS_AUGMENT, seed=0)
    for _ in ds.take(20):  # warm up: tracing, thread pools
        pass
    t, n = time.perf_counter(), 0
    for xb, _ in ds:
        n += int(xb.shape[0])
    return n / (time.perf_counter() - t)


def train_step_rate(x: np.ndarray, y: np.ndarray) -> tuple[float, str]:
    try:
        from ferbench.model.efficientnetv2.build import build_model
    except ImportError:
        return float("nan"), "model builder not available"
    import keras
    import tensorflow as tf

    model = build_model(input_shape=(48, 48, 1), num_classes=7, stages=(0, 1, 2, 3, 4), width=0.5, depth=0.5,
                        top_filters=1280, dropout=0.2, preprocessing=False)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", jit_compile=False)
    xb = tf.constant(x[:BATCH].astype(np.float32) / 127.5 - 1.0)
    yb = tf.constant(y[:BATCH].astype(np.int32))
    for _ in range(3):
        model.train_on_batch(xb, yb)
    steps = 15
    t = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(xb, yb)
    return steps * BATCH / (time.perf_counter() - t), f"{model.count_params():,} parameters"


def main() -> None:
    path = csv_path()
    rows = []
    t_naive = naive(path)
    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        data = load_dataset(spec(path, cache), progress=False)
        t_first = time.perf_counter() - t
        cached = []
        for _ in range(3):
            t = time.perf_counter()
            load_dataset(spec(path, cache), progress=False)
            cached.append(time.perf_counter() - t)
    t_cached = statistics.median(cached)
    train = data.splits["train"]
    pipe = pipeline_rate(train.x, train.y)
    step, note = train_step_rate(train.x, train.y)
    rows += [
        ("naive pandas + per-row str.split", f"{t_naive:.2f} s", "", ""),
        ("ferbench first load (parse, hash, cache)", f"{t_first:.2f} s", f"{t_naive / t_first:.1f}x faster", ">= 3x"),
        ("ferbench cached load (median of 3)", f"{t_cached:.3f} s", "", "<= 0.5 s"),
        ("input pipeline, thesis augmentation", f"{pipe:,.0f} img/s", "", ""),
        (f"train step, scaled-down model ({note})", f"{step:,.0f} img/s", f"pipeline {pipe / step:.1f}x", ">= 5x"),
    ]
    print(f"FER2013 CSV: {path.name}, {sum(len(s) for s in data.splits.values()):,} images; "
          f"{os.cpu_count()} CPU cores; batch {BATCH}")
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    ok = t_naive / t_first >= 3 and t_cached <= 0.5 and (np.isnan(step) or pipe / step >= 5)
    print("all targets met" if ok else "TARGET MISSED")


if __name__ == "__main__":
    main()
