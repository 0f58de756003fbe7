"""Training speed of a ferbench trial against the plain Keras recipe, side by side in one run.

    python benchmarks/perf/train_throughput.py                       # FER2013 from $FERBENCH_DATA
    python benchmarks/perf/train_throughput.py --device gpu --precision mixed --jit true --recipes ferbench
    python benchmarks/perf/train_throughput.py --smoke               # seconds, synthetic faces

Three recipes train the same network (the spec's model; by default the thesis's
scaled-down one: width 0.5, depth 0.5, stages 0-4, 48x48, 1280 head filters, batch 64)
on the same images, interleaved, ``--repeats`` times:

  ferbench  the trial's own code: ``build_for`` (fused batch norm), ``compile_model`` (its
            steps_per_execution), ``train_input`` (the train step gathers each batch and
            applies the XLA-compiled fused affine augmentation; class weights as sample
            weights) and the trial's per-batch callbacks;
  plain     what a user would otherwise write: Keras's EfficientNetV2 base with the same
            coefficients and kept stages (parameter count checked equal), Keras's
            augmentation layers inside the model, ``model.fit`` on NumPy arrays with
            ``class_weight``, the same batch size and augmentations;
  limit     the ferbench model fed pre-batched, pre-scaled tensors with no augmentation
            and no weights: the compute-bound limit of this model on this machine.

Optional (``--recipes ...,limit-keras-bn``): the limit with Keras's own
BatchNormalization, which shows what the fused batch norm gains.

All recipes are built first and warmed up with one untimed epoch each; then the recipes
take turns epoch by epoch (the order rotating from round to round), so that a busy
spell on the machine hits each alike. A repeat's training images/s is the training-set
size over its median epoch time; a recipe's figure is the median over repeats, and a
ratio between two recipes is the median of the repeats' ratios (each repeat compares
them under the same conditions; the ratio of the two medians is printed beside it).
Also measured: evaluation images/s (ferbench's batched validation
against ``model.evaluate`` on NumPy), and the trial's batches alone (index pipeline,
gather and augmentation, without the model) over the full training split. Targets
(CPU): ferbench >= 1.1x plain and >= 0.95x limit; pipeline >= 5x ferbench's training rate.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

DEFAULT_SPEC = REPO / "benchmarks" / "fer2013_cpu.yaml"
DEFAULT_SETS = ("model.top_filters=1280", "model.drop_connect=0.2", "model.dropout=0.2", "train.batch_size=64")
SMOKE_SPEC = REPO / "benchmarks" / "quickstart.yaml"
SMOKE_SETS = ("model.width=0.25", "dataset.synthetic.train=256", "dataset.synthetic.validation=128",
              "dataset.synthetic.test=64", "model.top_filters=1280", "model.drop_connect=0.2")
# One thesis trial on FER2013: Training (28,709 images) for 100 epochs, PublicTest (3,589) validated each epoch.
THESIS_TRAIN, THESIS_VAL, THESIS_EPOCHS = 28_709, 3_589, 100


def machine() -> str:
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    gpus = tf.config.list_physical_devices("GPU")
    return (f"{cpu}, {os.cpu_count()} CPU cores, {len(gpus)} GPU(s); TensorFlow {tf.__version__}, "
            f"Keras {__import__('keras').__version__}, Python {platform.python_version()}")


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


class EpochTimer:
    """Wall time of each epoch (a Keras callback made on demand so importing this costs nothing)."""

    def __new__(cls) -> Any:
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.seconds: list[float] = []
                self._t0 = 0.0

            def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
                self._t0 = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                self.seconds.append(time.perf_counter() - self._t0)

        return _Timer()


# --- the recipes --------------------------------------------------------------------------


class Bench:
    """The shared inputs: spec, hyperparameters, the training subset and the run's switches."""

    def __init__(self, args: argparse.Namespace) -> None:
        from ferbench.data import class_weights, load_dataset
        from ferbench.model.runtime import resolve_precision
        from ferbench.run.train.setup import RunData
        from ferbench.run.train.space import effective
        from ferbench.spec import load_spec

        spec_path, sets = (SMOKE_SPEC, SMOKE_SETS) if args.smoke else (Path(args.spec), DEFAULT_SETS)
        self.spec = load_spec(spec_path, [*sets, *args.set])
        data = load_dataset(self.spec.dataset, seed=self.spec.seed, progress=False)
        train, val = data.splits["train"], data.splits["validation"]
        self.full_x, self.full_y = train.x, train.y
        self.hp = effective(self.spec, {})
        self.batch = int(self.hp["batch_size"])
        n = min(args.images, len(train.y)) if args.images else len(train.y)
        self.x, self.y = train.x[:n], train.y[:n]
        ne = min(args.eval_images, len(val.y)) if args.eval_images else len(val.y)
        self.vx, self.vy = val.x[:ne], val.y[:ne]
        self.class_weight = class_weights(train.y, self.spec.num_classes, self.spec.loss)
        self.run_data = RunData(classes=self.spec.dataset.classes, x={"train": self.x, "validation": self.vx},
                                y={"train": self.y, "validation": self.vy}, class_weight=self.class_weight)
        self.gpu = args.device == "gpu"
        if args.precision == "mixed":
            self.precision = resolve_precision(_replace(self.spec.runtime, precision="auto", devices="auto"), _gpu_names())
        else:
            self.precision = "float32"
        self.jit = args.jit == "true"
        self.epochs = args.epochs
        self.spe_value: int | str = int(args.steps_per_execution) if args.steps_per_execution.isdigit() else "auto"

    def setup(self) -> Any:
        from ferbench.run.progress import Reporter
        from ferbench.run.train.setup import TrialSetup

        spec = _replace_spec(self.spec, steps_per_execution=self.spe_value)
        return TrialSetup(spec=spec, data=self.run_data, precision=self.precision, jit=self.jit, reporter=Reporter())

    def steps(self) -> int:
        return math.ceil(len(self.y) / self.batch)


def _gpu_names() -> list[str]:
    from ferbench.model.runtime import detect_gpus

    return detect_gpus()


def _replace(obj: Any, **kw: Any) -> Any:
    import dataclasses

    return dataclasses.replace(obj, **kw)


def _replace_spec(spec: Any, **runtime: Any) -> Any:
    return _replace(spec, runtime=_replace(spec.runtime, **runtime))


def ferbench_model(b: Bench, *, keras_batch_norm: bool = False) -> tuple[Any, Any, int]:
    """The trial's model, compiled as a trial compiles it, and its steps_per_execution.

    ``keras_batch_norm``: the same model with Keras's own BatchNormalization instead of
    the fused one (the builder's only departure from Keras's layers).
    """
    from ferbench.model.layers import to_keras
    from ferbench.run.train.trial import build_for, compile_model, steps_per_execution

    setup = b.setup()
    model = build_for(setup, b.hp)
    if keras_batch_norm:
        model = to_keras(model)
    spe = steps_per_execution(setup, b.steps(), gpu=b.gpu)
    compile_model(setup, model, b.hp, spe)
    return setup, model, spe


class Recipe:
    """One way to train the model: built once, then timed one epoch at a time."""

    info: dict[str, Any]

    def __init__(self, b: Bench) -> None:
        self.b, self.timer = b, EpochTimer()

    def fit_epoch(self) -> None:
        raise NotImplementedError

    def epoch(self) -> float:
        """Seconds of one training epoch (Keras's epoch begin to end: the fit call's set-up is left out)."""
        self.fit_epoch()
        return self.timer.seconds[-1]

    def evaluate(self) -> None:
        raise NotImplementedError


class Ferbench(Recipe):
    def __init__(self, b: Bench) -> None:
        from ferbench.run.train import callbacks as cb
        from ferbench.run.train.inputs import eval_dataset, train_input

        super().__init__(b)
        setup, self.model, spe = ferbench_model(b)
        self.ds = train_input(setup, self.model, b.hp, seed=b.spec.seed, gpu=b.gpu)
        # The trial's per-batch callbacks come along: they decide how often the step syncs.
        self.callbacks = [cb.NanGuard(), cb.EpochLog(), cb.Progress(setup.reporter, b.steps()), self.timer]
        self.val = eval_dataset(b.vx, b.vy, b.spec.train.eval_batch_size)
        self.info = {"params": self.model.count_params(), "steps_per_execution": spe,
                     "batches_in_step": _batches_in_step(b), "eval_batch": b.spec.train.eval_batch_size}

    def fit_epoch(self) -> None:
        self.model.fit(self.ds, epochs=1, verbose=0, shuffle=False, callbacks=self.callbacks)

    def evaluate(self) -> None:
        self.model.evaluate(self.val, verbose=0)


def _batches_in_step(b: Bench) -> bool:
    from ferbench.model.runtime import resolve_batches_in_step

    return resolve_batches_in_step(on_gpu=b.gpu, nbytes=int(b.x.nbytes))


class Limit(Recipe):
    """The ferbench model on pre-batched, pre-scaled tensors: no augmentation, no weights."""

    keras_batch_norm = False

    def __init__(self, b: Bench) -> None:
        import tensorflow as tf

        from ferbench.run.train.inputs import MODEL_INPUT_RANGE

        super().__init__(b)
        _, self.model, spe = ferbench_model(b, keras_batch_norm=self.keras_batch_norm)
        scale = (MODEL_INPUT_RANGE[1] - MODEL_INPUT_RANGE[0]) / 255.0
        x = tf.constant(b.x.astype(np.float32) * scale + MODEL_INPUT_RANGE[0])
        ds = tf.data.Dataset.from_tensor_slices((x, tf.constant(b.y.astype(np.int32)))).batch(b.batch).cache()
        self.ds = ds.prefetch(tf.data.AUTOTUNE)
        self.info = {"params": self.model.count_params(), "steps_per_execution": spe}

    def fit_epoch(self) -> None:
        self.model.fit(self.ds, epochs=1, verbose=0, callbacks=[self.timer])


class LimitKerasBN(Limit):
    """The limit with Keras's own BatchNormalization: what the fused batch norm gains."""

    keras_batch_norm = True


def plain_model(b: Bench) -> Any:
    """Keras's EfficientNetV2 base with the spec's coefficients and kept stages, augmentation layers in front."""
    import keras
    from keras.src.applications import efficientnet_v2 as kev2

    from ferbench.model.efficientnetv2.arch import keras_blocks_args
    from ferbench.model.runtime import apply_precision

    apply_precision(b.precision)
    spec, hp, aug, layers = b.spec, b.hp, b.spec.augment, keras.layers
    if int(hp["top_filters"]) != 1280:
        raise SystemExit("the plain recipe's Keras base has 1280 head filters; run with model.top_filters=1280")
    shape = spec.input_shape
    base = kev2.EfficientNetV2(
        width_coefficient=hp["width"], depth_coefficient=hp["depth"], default_size=shape[0],
        blocks_args=keras_blocks_args(tuple(spec.model.stages)), drop_connect_rate=hp["drop_connect"],
        include_top=False, weights=None, include_preprocessing=True, input_shape=shape, pooling="avg",
    )
    inputs = keras.Input(shape)
    x = inputs
    if aug.enabled:
        if aug.flip == "horizontal":
            x = layers.RandomFlip("horizontal")(x)
        if aug.rotation_deg:
            x = layers.RandomRotation(aug.rotation_deg / 360.0)(x)
        if aug.translate:
            x = layers.RandomTranslation(aug.translate, aug.translate)(x)
        if aug.zoom:
            x = layers.RandomZoom(aug.zoom)(x)
        if aug.contrast:
            x = layers.RandomContrast(aug.contrast)(x)
        if aug.brightness:
            x = layers.RandomBrightness(aug.brightness, value_range=(0, 255))(x)
    x = base(x)
    if hp["dropout"]:
        x = layers.Dropout(hp["dropout"])(x)
    outputs = layers.Dense(spec.num_classes, activation="softmax", dtype="float32")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(hp["learning_rate"]), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=b.jit)
    return model


class Plain(Recipe):
    """``model.fit`` on NumPy arrays with ``class_weight``; augmentation layers in the model."""

    def __init__(self, b: Bench) -> None:
        super().__init__(b)
        self.model = plain_model(b)
        self.x, self.vx = b.x.astype(np.float32), b.vx.astype(np.float32)
        cw = b.class_weight
        self.weights = {i: float(w) for i, w in enumerate(cw)} if cw is not None else None
        self.info = {"params": self.model.count_params()}

    def fit_epoch(self) -> None:
        self.model.fit(self.x, self.b.y, batch_size=self.b.batch, epochs=1, class_weight=self.weights, verbose=0,
                       callbacks=[self.timer])

    def evaluate(self) -> None:
        self.model.evaluate(self.vx, self.b.vy, batch_size=self.b.batch, verbose=0)


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def pipeline_rate(b: Bench, in_step: bool) -> float:
    """The trial's batches alone, over the full training split, after up to 20 warm-up batches.

    ``in_step``: what the trial's train step does before the forward pass (the index
    pipeline, then gather and augmentation, one compiled call per batch); otherwise the
    tf.data pipeline that gathers and augments.
    """
    import tensorflow as tf

    from ferbench.data.pipeline import DeviceBatches, make_index_dataset, make_train_dataset
    from ferbench.run.train.inputs import MODEL_INPUT_RANGE

    common = dict(batch_size=b.batch, seed=b.spec.seed, class_weight=b.class_weight)
    if in_step:
        device = DeviceBatches(b.full_x, augment=b.spec.augment, value_range=MODEL_INPUT_RANGE,
                               device="/GPU:0" if b.gpu else None)
        make = tf.function(lambda i, s: tf.shape(device(i, s))[0])
        batches: Any = (make(i, s) for (i, s), *_ in make_index_dataset(b.full_y, **common))
    else:
        ds = make_train_dataset(b.full_x, b.full_y, augment=b.spec.augment, value_range=MODEL_INPUT_RANGE, **common)
        batches = (tf.shape(xb)[0] for xb, *_ in ds)
    for _ in range(min(20, math.ceil(len(b.full_y) / b.batch) // 4)):  # tracing and XLA compiles; a smoke run has few batches
        next(batches)
    t, n = time.perf_counter(), 0
    for size in batches:
        n += int(size)
    return n / (time.perf_counter() - t)


RECIPES: dict[str, type[Recipe]] = {"plain": Plain, "ferbench": Ferbench, "limit": Limit, "limit-keras-bn": LimitKerasBN}


# --- report -------------------------------------------------------------------------------


def median(results: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in results)


def paired(out: dict[str, Any], a: str, b: str) -> float:
    """``a``'s rate over ``b``'s: the median of the per-repeat ratios.

    Each repeat interleaves the recipes, so its ratio compares them under the same
    machine conditions; the median of those ratios is not moved by the machine getting
    faster or slower between repeats, which the ratio of the two medians is (that one
    pairs different repeats). Both are kept in ``out``.
    """
    ratios = [x / y for x, y in zip(out[a]["train_all"], out[b]["train_all"])]
    out[f"{a}_over_{b}"] = statistics.median(ratios)
    out[f"{a}_over_{b}_repeats"] = ratios
    out[f"{a}_over_{b}_of_medians"] = out[a]["train"] / out[b]["train"]
    return out[f"{a}_over_{b}"]


def report(b: Bench, runs: dict[str, list[dict[str, Any]]], pipe: float | None, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "machine": machine(), "precision": b.precision, "jit_compile": b.jit, "device": args.device,
        "images": len(b.y), "eval_images": len(b.vy), "batch": b.batch, "epochs": b.epochs, "repeats": args.repeats,
        "hyperparameters": b.hp, "stages": list(b.spec.model.stages), "input_shape": list(b.spec.input_shape),
    }
    rows: list[tuple[str, str, str]] = []
    for name, rs in runs.items():
        out[name] = {"train": median(rs, "train"), "train_all": [r["train"] for r in rs]}
        if "eval" in rs[0]:
            out[name]["eval"] = median(rs, "eval")
        for k in ("params", "steps_per_execution", "batches_in_step", "eval_batch"):
            if k in rs[0]:
                out[name][k] = rs[0][k]
    out["load_average_start"], out["load_average_end"] = args.load_start, load_average()
    print(f"machine: {out['machine']}")
    print(f"load average (1, 5, 15 min): {out['load_average_start']} at the start, {out['load_average_end']} at the end")
    print(f"model: stages {out['stages']}, width {b.hp['width']}, depth {b.hp['depth']}, input {out['input_shape']}, "
          f"batch {b.batch}; {len(b.y):,} training images per epoch; after a warm-up epoch, median of "
          f"{args.repeats} repeats of {b.epochs} epochs per recipe, interleaved epoch by epoch; precision {b.precision}, XLA {'on' if b.jit else 'off'}")
    if "plain" in out and "ferbench" in out:
        same = out["plain"]["params"] == out["ferbench"]["params"]
        out["params_equal"] = same
        print(f"parameters: ferbench {out['ferbench']['params']:,}, plain Keras {out['plain']['params']:,}"
              f" ({'equal' if same else 'DIFFERENT'})")
        if not same:
            raise SystemExit("parameter counts differ: the comparison would not be fair")
    fb = out.get("ferbench", {}).get("train")
    for name, label in (("ferbench", "ferbench trial"), ("plain", "plain Keras recipe"), ("limit", "no-augmentation limit"),
                        ("limit-keras-bn", "limit, Keras's BatchNormalization")):
        if name in out:
            r = out[name]
            extra = f"steps_per_execution {r['steps_per_execution']}" if "steps_per_execution" in r else ""
            rows.append((f"train, {label}", f"{r['train']:,.0f} img/s", "  ".join(f"{v:,.0f}" for v in r["train_all"]) + ("   " + extra if extra else "")))
    targets = []
    if fb and "plain" in out:
        targets.append(("ferbench / plain", paired(out, "ferbench", "plain"), 1.1))
        out["plain_over_limit"] = out["plain"]["train"] / out["limit"]["train"] if "limit" in out else None
    if fb and "limit" in out:
        targets.append(("ferbench / limit", paired(out, "ferbench", "limit"), 0.95))
    for name, label in (("ferbench", f"eval, ferbench (batch {out.get('ferbench', {}).get('eval_batch')})"),
                        ("plain", f"eval, plain model.evaluate (batch {b.batch})")):
        if name in out and "eval" in out[name]:
            rows.append((label, f"{out[name]['eval']:,.0f} img/s", ""))
    if pipe is not None and fb:
        out["pipeline"] = pipe
        out["pipeline_over_train"] = pipe / fb
        how = "gather + augmentation as in the step" if out["ferbench"].get("batches_in_step") else "tf.data pipeline"
        rows.append((f"input pipeline alone ({how}, {len(b.full_y):,} images)", f"{pipe:,.0f} img/s", ""))
        targets.append(("pipeline / ferbench train", out["pipeline_over_train"], 5.0))
    if fb and out.get("ferbench", {}).get("eval"):
        hours = THESIS_EPOCHS * (THESIS_TRAIN / fb + THESIS_VAL / out["ferbench"]["eval"]) / 3600
        out["thesis_trial_hours"] = hours
        rows.append(("one thesis trial (FER2013, 100 epochs + validation)", f"{hours:.2f} h", ""))
    w = max(len(r[0]) for r in rows)
    for r in rows:
        print(f"  {r[0].ljust(w)}  {r[1].rjust(14)}  {r[2]}".rstrip())
    if out.get("plain_over_limit"):
        print(f"  plain / limit: {out['plain_over_limit']:.3f}")
    if "limit" in out and "limit-keras-bn" in out:
        out["fused_bn_gain"] = paired(out, "limit", "limit-keras-bn")
        print(f"  limit / limit with Keras's BatchNormalization: {out['fused_bn_gain']:.3f}"
              f"  (median of the repeats' ratios; ratio of the medians {out['limit_over_limit-keras-bn_of_medians']:.3f})")
    ok = True
    for name, value, target in targets:
        met = value >= target
        ok &= met
        key = name.replace(" / ", "_over_").replace(" ", "_")
        detail = ""
        if f"{key}_repeats" in out:
            detail = (f"  (median of the repeats' ratios {' '.join(f'{v:.3f}' for v in out[f'{key}_repeats'])};"
                      f" ratio of the medians {out[f'{key}_of_medians']:.3f})")
        print(f"  {name}: {value:.3f}{detail}  target >= {target}: {'met' if met else 'MISSED'}")
    out["targets_met"] = ok if targets else None
    if targets:
        print("all targets met" if ok else "TARGET MISSED")
    return out


def measure(b: Bench, names: list[str], args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Interleave the recipes epoch by epoch, so that a busy spell on the machine hits each alike.

    Each recipe is built and warmed up (one untimed epoch: tracing, thread pools), then
    each repeat times ``epochs`` epochs of every recipe in turn, and the repeat's rate is
    the training-set size over the median epoch. The order of the turns rotates from one
    round to the next, so no recipe always follows the same one (what one leaves behind,
    such as memory to reclaim, falls on each alike). Evaluation is timed the same way.
    """
    recipes = {n: RECIPES[n](b) for n in names}
    for r in recipes.values():
        r.fit_epoch()
        if type(r).evaluate is not Recipe.evaluate:
            r.evaluate()
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for rep in range(args.repeats):
        seconds: dict[str, list[float]] = {n: [] for n in names}
        for e in range(args.epochs):
            k = (rep * args.epochs + e) % len(names)
            for n in names[k:] + names[:k]:
                seconds[n].append(recipes[n].epoch())
        for n, r in recipes.items():
            res = {"train": len(b.y) / statistics.median(seconds[n]), **r.info}
            if type(r).evaluate is not Recipe.evaluate:
                res["eval"] = len(b.vy) / timed(r.evaluate)
            runs[n].append(res)
            print(f"  repeat {rep + 1}/{args.repeats} {n}: {res['train']:,.0f} img/s", file=sys.stderr, flush=True)
    return runs


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--spec", default=str(DEFAULT_SPEC), help="spec whose data, model and augmentation are used")
    p.add_argument("--set", action="append", default=[], help="dotted.key=value override (repeatable)")
    p.add_argument("--images", type=int, default=2560, help="training images per epoch (0: the whole split)")
    p.add_argument("--eval-images", type=int, default=2048, help="validation images evaluated (0: the whole split)")
    p.add_argument("--epochs", type=int, default=4, help="timed epochs per recipe and repeat (after one warm-up epoch)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--recipes", default="plain,ferbench,limit",
                   help="comma-separated: plain, ferbench, limit, limit-keras-bn (the limit with Keras's batch norm)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--precision", choices=("float32", "mixed"), default="float32")
    p.add_argument("--jit", choices=("false", "true"), default="false")
    p.add_argument("--steps-per-execution", default="auto", help="auto or a count (ferbench and limit)")
    p.add_argument("--no-pipeline", action="store_true", help="skip the pipeline-alone measurement")
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--smoke", action="store_true", help="tiny synthetic run that only checks the benchmark works")
    args = p.parse_args(argv)
    if args.smoke:
        args.images, args.eval_images, args.epochs, args.repeats = 128, 64, 1, 1
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    args.load_start = load_average()
    if args.device == "cpu":
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")  # before TensorFlow starts
    import tensorflow as tf

    if args.device == "gpu" and not tf.config.list_physical_devices("GPU"):
        raise SystemExit("--device gpu: TensorFlow sees no GPU here")
    b = Bench(args)
    names = [n.strip() for n in args.recipes.split(",") if n.strip()]
    unknown = set(names) - set(RECIPES)
    if unknown:
        raise SystemExit(f"unknown recipe(s): {', '.join(sorted(unknown))}")
    runs = measure(b, names, args)
    pipe = None if args.no_pipeline or "ferbench" not in runs else pipeline_rate(b, runs["ferbench"][0]["batches_in_step"])
    out = report(b, runs, pipe, args)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    return out


if __name__ == "__main__":
    main()
