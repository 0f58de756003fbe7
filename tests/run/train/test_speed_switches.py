"""The speed switches of a trial, on the CPU: steps_per_execution, XLA, precision, batches made in the step."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ferbench.model.runtime import (
    CPU_STEPS_PER_EXECUTION,
    DEVICE_CACHE_MAX_BYTES,
    GPU_STEPS_PER_EXECUTION,
    RuntimeConfigError,
    resolve_batches_in_step,
    resolve_steps_per_execution,
)
from ferbench.spec.types import AugmentSpec

REPO = Path(__file__).resolve().parents[3]
THESIS = AugmentSpec(True, "horizontal", 10, 0.1, 0.1, 0.1, 0.1)


# --- decisions (no TensorFlow) --------------------------------------------------------------


def test_steps_per_execution_auto_by_device() -> None:
    assert resolve_steps_per_execution("auto", on_gpu=False) == CPU_STEPS_PER_EXECUTION
    assert resolve_steps_per_execution("auto", on_gpu=True) == GPU_STEPS_PER_EXECUTION
    assert GPU_STEPS_PER_EXECUTION > 1
    # Never more than one epoch's steps.
    assert resolve_steps_per_execution("auto", on_gpu=True, steps_per_epoch=5) == 5
    assert resolve_steps_per_execution("auto", on_gpu=True, steps_per_epoch=10_000) == GPU_STEPS_PER_EXECUTION


def test_steps_per_execution_explicit_and_invalid() -> None:
    assert resolve_steps_per_execution(7, on_gpu=False, steps_per_epoch=3) == 7  # the spec's count is kept
    assert resolve_steps_per_execution(1, on_gpu=True) == 1
    for bad in (0, -2, "often", True):
        with pytest.raises(RuntimeConfigError, match="steps_per_execution"):
            resolve_steps_per_execution(bad, on_gpu=True)


def test_batches_in_step_decision() -> None:
    fer2013 = 28_709 * 48 * 48  # bytes of the uint8 training array
    assert resolve_batches_in_step(on_gpu=True, nbytes=fer2013) is True
    assert resolve_batches_in_step(on_gpu=False, nbytes=fer2013) is True  # host memory holds it already
    assert resolve_batches_in_step(on_gpu=False, nbytes=DEVICE_CACHE_MAX_BYTES + 1) is True  # no copy on a CPU
    assert resolve_batches_in_step(on_gpu=True, nbytes=DEVICE_CACHE_MAX_BYTES + 1) is False
    assert resolve_batches_in_step(on_gpu=True, nbytes=fer2013, device_bytes=16 << 30) is True
    assert resolve_batches_in_step(on_gpu=True, nbytes=fer2013, device_bytes=fer2013 * 2) is False  # over a quarter
    assert resolve_batches_in_step(on_gpu=True, nbytes=0) is False


# --- the trial's use of them ----------------------------------------------------------------


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A TrialSetup on tiny synthetic data (the run tests' spec)."""
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from runspecs import write_spec

    from ferbench.data import load_dataset
    from ferbench.run.progress import Reporter
    from ferbench.run.train.setup import RunData, TrialSetup
    from ferbench.spec import load_spec

    folder = tmp_path_factory.mktemp("speed")
    spec = load_spec(write_spec(folder), ["model.width=0.25", "train.learning_rate=0.003"])
    run_data = RunData.from_loaded(load_dataset(spec.dataset, seed=spec.seed, progress=False), spec.loss)
    return TrialSetup(spec=spec, data=run_data, precision="float32", jit=False, reporter=Reporter())


def _hp(setup):
    from ferbench.run.train.space import effective

    return effective(setup.spec, {})


def _with_runtime(setup, **kw):
    spec = dataclasses.replace(setup.spec, runtime=dataclasses.replace(setup.spec.runtime, **kw))
    return dataclasses.replace(setup, spec=spec)


@pytest.mark.parametrize("value,gpu,expected", [("auto", False, min(CPU_STEPS_PER_EXECUTION, 4)), ("auto", True, 4), (3, False, 3)])
def test_steps_per_execution_reaches_compile(setup, keras_clean, value, gpu, expected) -> None:
    from ferbench.run.train.trial import build_for, compile_model, steps_per_execution

    s = _with_runtime(setup, steps_per_execution=value)
    hp = _hp(s)
    model = build_for(s, hp)
    spe = steps_per_execution(s, steps_per_epoch=4, gpu=gpu)  # 56 images / batch 16
    compile_model(s, model, hp, spe)
    assert spe == expected and model.steps_per_execution == expected


@pytest.mark.parametrize("jit", [True, False])
def test_jit_flag_reaches_the_trial_compile(setup, keras_clean, jit) -> None:
    from ferbench.run.train.trial import build_for, compile_model

    s = dataclasses.replace(setup, jit=jit)
    hp = _hp(s)
    model = build_for(s, hp)
    compile_model(s, model, hp, 1)
    assert model.jit_compile is jit


@pytest.mark.parametrize("policy,compute", [("mixed_bfloat16", "bfloat16"), ("mixed_float16", "float16")])
def test_trial_builds_under_the_precision_policy(setup, keras_clean, policy, compute) -> None:
    from ferbench.run.train.trial import build_for

    model = build_for(dataclasses.replace(setup, precision=policy), _hp(setup))
    convs = [layer for layer in model.layers if layer.name.endswith("_conv")]
    assert convs and all(layer.compute_dtype == compute and layer.variable_dtype == "float32" for layer in convs)
    assert model.get_layer("predictions").compute_dtype == "float32"
    y = model(np.zeros((2, *setup.spec.input_shape), "float32"), training=False)
    assert keras_clean.backend.standardize_dtype(y.dtype) == "float32"


# --- augmentation in the pipeline vs on the device ------------------------------------------


def _arrays(n: int = 70, size: int = 16):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, size, size, 1), dtype=np.uint8), rng.integers(0, 3, n)


def test_device_batches_equal_pipeline_batches() -> None:
    from ferbench.data.pipeline import DeviceBatches, make_index_dataset, make_train_dataset

    x, y = _arrays()
    w = np.array([0.5, 1.0, 2.0])
    tf = pytest.importorskip("tensorflow")
    tf.random.set_seed(2)  # under a global seed, each new dataset draws its seeds from a per-process counter
    pipe = make_train_dataset(x, y, batch_size=32, augment=THESIS, seed=9, class_weight=w, value_range=(0, 255), deterministic=True)
    tf.random.set_seed(2)
    idx = make_index_dataset(y, batch_size=32, seed=9, class_weight=w, deterministic=True)
    device = DeviceBatches(x, augment=THESIS, value_range=(0, 255), device="/CPU:0")
    assert device.nbytes == x.nbytes
    seen = 0
    for _ in range(2):  # two epochs: new order and new augmentation, the same on both paths
        for (xa, ya, wa), ((i, s), yb, wb) in zip(pipe, idx, strict=True):
            xb = device(i, s)
            assert xb.dtype == xa.dtype and tuple(xb.shape) == tuple(xa.shape)
            np.testing.assert_array_equal(xa.numpy(), xb.numpy())
            np.testing.assert_array_equal(ya.numpy(), yb.numpy())
            np.testing.assert_array_equal(wa.numpy(), wb.numpy())
            seen += int(xa.shape[0])
    assert seen == 2 * len(x)
    # And it augments: not the plain scaled images.
    (i, s), *_ = next(iter(idx))
    plain = x[i.numpy()].astype(np.float32)
    assert not np.allclose(device(i, s).numpy(), plain)


def test_augment_batch_inside_a_compiled_function_matches_the_pipeline() -> None:
    tf = pytest.importorskip("tensorflow")
    from ferbench.data.pipeline import augment_batch

    x, _ = _arrays(8)
    images = tf.constant(x.astype(np.float32) / 255.0)
    seed = tf.constant([3, 4], tf.int64)
    eager = augment_batch(images, THESIS, seed).numpy()
    compiled = tf.function(lambda im, s: augment_batch(im, THESIS, s))(images, seed).numpy()
    np.testing.assert_allclose(eager, compiled, atol=1e-6)
    assert eager.dtype == np.float32 and eager.shape == x.shape and 0 <= eager.min() and eager.max() <= 1


@pytest.mark.parametrize("gpu,jit", [(False, False), (True, False), (False, True)], ids=["cpu", "gpu-placement", "xla-step"])
def test_the_train_step_makes_the_pipeline_batches(setup, keras_clean, monkeypatch, gpu, jit) -> None:
    """The index path: the step gathers and augments. ``gpu=True`` on the CPU runs by soft placement;
    ``xla-step`` compiles the whole train step with XLA, as ``auto`` does on a GPU."""
    tf = pytest.importorskip("tensorflow")
    from ferbench.data.pipeline import _batch_maker
    from ferbench.run.train import inputs as inputs_mod
    from ferbench.run.train import trial

    setup = dataclasses.replace(setup, jit=jit)
    hp = _hp(setup)
    seen = {}
    original = inputs_mod.augment_in_step

    def spy(model, batches):
        seen["batches"] = batches
        original(model, batches)

    monkeypatch.setattr(inputs_mod, "augment_in_step", spy)
    model = trial.build_for(setup, hp)
    trial.compile_model(setup, model, hp, 2)
    ds = inputs_mod.train_input(setup, model, hp, seed=5, gpu=gpu)
    (inputs, labels, weights) = next(iter(ds))
    assert isinstance(inputs, tuple) and inputs[0].dtype.name == "int64" and tuple(inputs[1].shape) == (2,)
    assert seen["batches"].device == ("/GPU:0" if gpu else None)
    assert seen["batches"].jit is True  # XLA-compiled augmentation (deterministic runs: below)
    first = seen["batches"](*inputs)
    assert first.dtype.name == "float32" and tuple(first.shape[1:]) == setup.spec.input_shape
    assert float(first.numpy().max()) > 1.5  # the model's range, [0, 255]
    # The batch is what the uncompiled recipe makes of the same indices and seed pair.
    idx = inputs[0].numpy()
    x, y = setup.data.x["train"], setup.data.y["train"]
    expected = _batch_maker(tf, setup.spec.augment, inputs_mod.MODEL_INPUT_RANGE, jit=False)(tf.constant(x[idx]), inputs[1])
    np.testing.assert_allclose(first.numpy(), expected.numpy(), atol=0.02)  # XLA's rounding, on the 0-255 scale
    np.testing.assert_array_equal(labels.numpy(), y[idx])
    np.testing.assert_allclose(weights.numpy(), setup.data.class_weight[y[idx]], rtol=1e-6)
    history = model.fit(ds, epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))


def test_deterministic_runs_augment_without_xla(setup, keras_clean, monkeypatch) -> None:
    from ferbench.run.train import inputs as inputs_mod
    from ferbench.run.train import trial

    s = _with_runtime(setup, deterministic=True)
    hp = _hp(s)
    model = trial.build_for(s, hp)
    trial.compile_model(s, model, hp, 1)
    seen = {}
    monkeypatch.setattr(inputs_mod, "augment_in_step", lambda m, batches: seen.setdefault("batches", batches))
    inputs_mod.train_input(s, model, hp, seed=5, gpu=False)
    assert seen["batches"].jit is False


def test_on_gpu_is_false_without_a_gpu() -> None:
    tf = pytest.importorskip("tensorflow")
    from ferbench.model.runtime import on_gpu

    assert on_gpu() is bool(tf.config.list_logical_devices("GPU"))


# --- the GPU check script -------------------------------------------------------------------


def test_gpu_check_dry_run_prints_its_plan() -> None:
    out = subprocess.run(["bash", str(REPO / "benchmarks/perf/gpu_check.sh"), "--dry-run"], capture_output=True,
                         text=True, timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for mode in ("float32", "mixed", "mixed + XLA"):
        assert mode in text
    assert "train_throughput.py" in text and "--device gpu" in text


def test_gpu_check_refuses_a_machine_without_gpu() -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "GPU_CHECK_SKIP_SMI": "1"}
    out = subprocess.run(["bash", str(REPO / "benchmarks/perf/gpu_check.sh")], capture_output=True, text=True,
                         timeout=120, cwd=REPO, env=env)
    assert out.returncode != 0
    assert "no GPU" in (out.stdout + out.stderr)


def test_throughput_benchmark_smoke(tmp_path: Path) -> None:
    """The benchmark runs end to end on tiny synthetic data and reports every figure."""
    import json

    out = tmp_path / "figures.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks/perf/train_throughput.py"), "--smoke", "--json", str(out),
                           "--recipes", "plain,ferbench,limit,limit-keras-bn"],
                          capture_output=True, text=True, timeout=240, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r["params_equal"] is True and r["ferbench"]["params"] == r["plain"]["params"]
    for name in ("ferbench", "plain", "limit", "limit-keras-bn"):
        assert r[name]["train"] > 0
    assert r["limit-keras-bn"]["params"] == r["limit"]["params"]
    assert r["fused_bn_gain"] == pytest.approx(r["limit"]["train"] / r["limit-keras-bn"]["train"])  # one repeat
    assert r["ferbench"]["eval"] > 0 and r["plain"]["eval"] > 0 and r["pipeline"] > 0
    assert r["ferbench"]["steps_per_execution"] == min(CPU_STEPS_PER_EXECUTION, 2)  # 128 images, batch 64
    # The verdict's ratio is the median of the per-repeat ratios (one repeat here: the plain ratio).
    assert r["ferbench_over_plain_repeats"] == pytest.approx([f / p for f, p in zip(r["ferbench"]["train_all"], r["plain"]["train_all"])])
    assert r["ferbench_over_plain"] == pytest.approx(r["ferbench"]["train"] / r["plain"]["train"])
    assert r["ferbench_over_limit_of_medians"] == pytest.approx(r["ferbench"]["train"] / r["limit"]["train"])
    assert "ferbench / plain" in proc.stdout and "ferbench / limit" in proc.stdout and "pipeline / ferbench train" in proc.stdout
