"""Batch-1 latency on this CPU of one trained model as Keras float32, TFLite float32, TFLite int8 and ONNX, side by side.

    python benchmarks/perf/export_latency.py RUN_FOLDER            # its best trial (or --trial N)
    python benchmarks/perf/export_latency.py --smoke               # a model trained for seconds on synthetic faces

The same trained model (a run's kept ``model.keras``) is run five ways, each on one
image at a time, the way a camera pipeline calls it:

  keras          the Keras model's forward pass compiled once (``tf.function``, inference
                 mode): the fastest way Keras runs it, and what every trial's latency uses;
  keras-predict  ``model.predict_on_batch``: what a script calling Keras directly pays;
  tflite         ``ferbench export``'s float32 flatbuffer through the TFLite/LiteRT interpreter;
  tflite-int8    ``ferbench export``'s int8 flatbuffer (weights and activations int8, ranges
                 calibrated on 500 training images), through the same interpreter;
  onnx           ``ferbench export``'s ONNX graph (tf2onnx) through ONNX Runtime (where
                 ``ferbench[onnx]`` is installed).

Each way is warmed up, then the ways take turns round by round (the order rotating), so
a busy spell on the machine hits each alike: a round times ``--calls`` single-image
calls of each and keeps their median; a way's figure is the median over ``--rounds``
rounds, and a speed-up is the median of the rounds' ratios. Each way's test accuracy
(and macro F1) is computed on the run's whole test split through that way itself.
Targets: int8 at least 3x faster than Keras (``keras``) at batch 1, losing at most 1.0
percentage point of test accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

WAYS: tuple[str, ...] = ("keras", "keras-predict", "tflite", "tflite-int8", "onnx")
SMOKE_SPEC = REPO / "benchmarks" / "quickstart.yaml"
SMOKE_SETS = ("search.trials=1", "train.max_epochs=1", "model.width=0.25", "dataset.synthetic.train=512")


def _smoke_run(folder: Path) -> Path:
    """Train the smoke model: one quick-start trial of one epoch, results under ``folder``."""
    from ferbench.run.progress import PlainReporter
    from ferbench.run.runner import run_spec

    [result] = run_spec(SMOKE_SPEC, sets=[*SMOKE_SETS, f"results={folder}"], reporter=PlainReporter(open(os.devnull, "w")))
    return Path(result.folder)


def _ways(model: Any, blobs: dict[str, bytes], threads: int) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Each way as ``x (one float32 image batch) -> probabilities``."""
    import tensorflow as tf

    from ferbench.export.tflite import interpreter, tflite_call

    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=False)
    ways = {
        "keras": lambda x: forward(tf.constant(x)).numpy(),
        "keras-predict": lambda x: np.asarray(model.predict_on_batch(x)),
        "tflite": tflite_call(interpreter(blobs["tflite"], 1, threads)),
        "tflite-int8": tflite_call(interpreter(blobs["tflite-int8"], 1, threads)),
    }
    if "onnx" in blobs:
        from ferbench.export.onnx import onnx_call, session

        ways["onnx"] = onnx_call(session(blobs["onnx"], threads))
    return ways


def _accuracy(way: str, model: Any, blobs: dict[str, bytes], x: np.ndarray, y: np.ndarray, classes: tuple[str, ...],
              threads: int) -> dict[str, float]:
    from ferbench.export.tflite import tflite_predict
    from ferbench.results.metrics import metrics_block

    if way.startswith("keras"):
        prob = model.predict(x.astype(np.float32), batch_size=256, verbose=0)
    elif way == "onnx":
        from ferbench.export.onnx import onnx_predict, session

        prob = onnx_predict(session(blobs["onnx"], threads), 256)(x)
    else:
        prob = tflite_predict(blobs[way], threads)(x)
    m = metrics_block(y, prob, classes)
    return {"accuracy": m["accuracy"], "f1_macro": m["f1_macro"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", nargs="?", type=Path, help="A run folder whose model to measure.")
    parser.add_argument("--trial", type=int, default=None, help="Its trial N (default: the run's best trial).")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200, help="Single-image calls timed per way and round.")
    parser.add_argument("--smoke", action="store_true", help="Measure a model trained for seconds on synthetic faces.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = parser.parse_args(argv)
    if args.run is None and not args.smoke:
        parser.error("give a run folder, or --smoke")

    from ferbench._lazy import require
    from ferbench.errors import MissingDependency
    from ferbench.export.api import model_file
    from ferbench.export.latency import images, median_ms
    from ferbench.export.tflite import calibration_images, interpreter_class, to_tflite
    from ferbench.results.environment import cpu_name, usable_cpus
    from ferbench.results.paths import RunPaths
    from ferbench.results.read import read_run_record
    from ferbench.run.frameworks import quiet_libraries
    from ferbench.run.session import RunSession

    quiet_libraries()
    tf = require("tensorflow")
    keras = require("keras")
    tf.config.set_visible_devices([], "GPU")
    with tempfile.TemporaryDirectory() as tmp:
        folder = _smoke_run(Path(tmp)) if args.smoke else args.run
        paths = RunPaths(folder)
        trial = args.trial if args.trial is not None else read_run_record(paths.run_json).best_trial
        if trial is None:
            parser.error(f"{folder}: no complete trial")
        session = RunSession.from_folder(folder)
        data = session.load_data()
        model = keras.models.load_model(model_file(paths, trial), compile=False)
        blobs = {"tflite": to_tflite(model, "tflite"), "tflite-int8": to_tflite(model, "tflite-int8", calibration_images(data))}
        try:
            from ferbench.export.onnx import to_onnx

            blobs["onnx"] = to_onnx(model, session.spec.input_shape)[0]
        except MissingDependency as exc:
            print(f"onnx left out: {exc}")
        threads = usable_cpus()
        ways = _ways(model, blobs, threads)
        names = tuple(w for w in WAYS if w in ways)
        x1 = images(1, session.spec.input_shape)
        for call in ways.values():  # warm-up: tracing, thread pools, the interpreter's first runs
            for _ in range(20):
                call(x1)
        load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
        rounds: list[dict[str, float]] = []
        for r in range(args.rounds):
            order = list(names[r % len(names):] + names[:r % len(names)])
            rounds.append({w: median_ms(lambda w=w: ways[w](x1), warmup=5, repeats=args.calls) for w in order})
        load_after = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
        t0 = time.monotonic()
        acc = {w: _accuracy(w, model, blobs, data.x["test"], data.y["test"], data.classes, threads) for w in names}
        acc_s = time.monotonic() - t0
    figures = {w: statistics.median(rd[w] for rd in rounds) for w in names}
    speedup = {w: statistics.median(rd["keras"] / rd[w] for rd in rounds) for w in names}
    lost_pp = 100 * (acc["keras"]["accuracy"] - acc["tflite-int8"]["accuracy"])
    print(f"machine: {cpu_name()}, {usable_cpus()} usable CPUs, {platform.platform()}; TensorFlow {tf.__version__}, "
          f"Keras {keras.__version__}; interpreter: {interpreter_class()[1]}, {threads} threads")
    print(f"model: {folder} trial {trial}, {int(model.count_params()):,} parameters, input {session.spec.input_shape}; "
          f"test split n={len(data.y['test'])}; 1-minute load {load_before} before, {load_after} after")
    print(f"{args.rounds} rounds x {args.calls} single-image calls per way (median per round; figure: median of rounds)\n")
    print(f"{'way':<14} {'batch-1 ms':>11} {'rounds (ms)':<44} {'vs keras':>9} {'test acc':>9} {'macro F1':>9} {'size':>10}")
    sizes = {w: len(b) for w, b in blobs.items()}
    for w in names:
        per = " ".join(f"{rd[w]:.3f}" for rd in rounds)
        size = f"{sizes[w] / 1024:,.0f} KiB" if w in sizes else "-"
        print(f"{w:<14} {figures[w]:>11.4f} {per:<44} {speedup[w]:>8.2f}x {100 * acc[w]['accuracy']:>8.2f}% "
              f"{acc[w]['f1_macro']:>9.4f} {size:>10}")
    fast = speedup["tflite-int8"] >= 3.0
    print(f"\ntarget: int8 >= 3x faster than keras at batch 1: {speedup['tflite-int8']:.2f}x -> {'met' if fast else 'NOT met'}")
    print(f"target: int8 loses <= 1.0 pp of test accuracy: {lost_pp:+.2f} pp lost -> {'met' if lost_pp <= 1.0 else 'NOT met'}")
    print(f"(accuracy of the ways took {acc_s:.1f}s)")
    if args.json:
        args.json.write_text(json.dumps({"rounds": rounds, "median_ms": figures, "speedup_vs_keras": speedup, "accuracy": acc,
                                         "int8_accuracy_lost_pp": lost_pp, "sizes_bytes": sizes, "threads": threads,
                                         "load_1min": [load_before, load_after], "trial": trial, "run": str(folder)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
