"""GPU switches on the CPU: policy and XLA decisions, dtype policies of built layers."""

from __future__ import annotations

import dataclasses

import pytest

from ferbench.model.runtime import (
    RuntimeConfigError,
    apply_precision,
    compute_capability,
    resolve_jit,
    resolve_precision,
    supports_bfloat16,
)
from ferbench.spec.types import RuntimeSpec

BASE = RuntimeSpec(devices="auto", workers="auto", precision="auto", jit_compile="auto", deterministic=False, storage=None, steps_per_execution="auto")


def rt(**kw) -> RuntimeSpec:
    return dataclasses.replace(BASE, **kw)


@pytest.mark.parametrize(
    "gpus,expected",
    [
        ([], "float32"),
        (["NVIDIA H200 (compute capability 9.0)"], "mixed_bfloat16"),
        (["NVIDIA A100-SXM4-40GB"], "mixed_bfloat16"),
        (["NVIDIA L4"], "mixed_bfloat16"),
        (["NVIDIA GeForce RTX 3090"], "mixed_bfloat16"),
        (["NVIDIA GeForce RTX 4090", "NVIDIA H100 80GB HBM3"], "mixed_bfloat16"),
        (["NVIDIA RTX A6000"], "mixed_bfloat16"),
        (["Tesla V100-SXM2-16GB"], "mixed_float16"),
        (["Tesla T4 (compute capability 7.5)"], "mixed_float16"),
        (["NVIDIA GeForce RTX 2080 Ti"], "mixed_float16"),
        (["NVIDIA A100-SXM4-40GB", "Tesla T4"], "mixed_float16"),  # the weakest GPU decides
        (["Tesla P100-PCIE-16GB (compute capability 6.0)"], "float32"),  # no tensor cores
    ],
)
def test_auto_precision_by_device(gpus: list[str], expected: str) -> None:
    assert resolve_precision(rt(), gpus) == expected


def test_explicit_and_cpu_precision() -> None:
    assert resolve_precision(rt(devices="cpu"), ["NVIDIA H100"]) == "float32"
    for policy in ("float32", "mixed_float16", "mixed_bfloat16"):
        assert resolve_precision(rt(precision=policy), []) == policy
    with pytest.raises(RuntimeConfigError, match="runtime.precision"):
        resolve_precision(rt(precision="half"), [])


def test_compute_capability_forms() -> None:
    assert compute_capability("NVIDIA H200 (compute capability 9.0)") == (9, 0)
    assert compute_capability("sm_86") == (8, 6)
    assert compute_capability("cc 7.5") == (7, 5)
    assert compute_capability("Tesla T4") is None
    assert supports_bfloat16("sm_80") and not supports_bfloat16("sm_75")


def test_jit_resolution() -> None:
    assert resolve_jit(rt(), on_gpu=False) is False  # XLA measured slower on the CPU
    assert resolve_jit(rt(), on_gpu=True) is True
    assert resolve_jit(rt(jit_compile=True), on_gpu=False) is True
    assert resolve_jit(rt(jit_compile=False), on_gpu=True) is False
    assert resolve_jit(rt(jit_compile="true"), on_gpu=False) is True
    assert resolve_jit(rt(deterministic=True), on_gpu=True) is False
    assert resolve_jit(rt(deterministic=True, jit_compile=True), on_gpu=True) is False
    with pytest.raises(RuntimeConfigError, match="jit_compile"):
        resolve_jit(rt(jit_compile="sometimes"), on_gpu=True)


@pytest.mark.parametrize("policy,compute", [("mixed_bfloat16", "bfloat16"), ("mixed_float16", "float16"), ("float32", "float32")])
def test_layer_policies_after_apply_precision(keras_clean, policy: str, compute: str) -> None:
    import numpy as np

    from ferbench.model.efficientnetv2.build import build_model

    keras = keras_clean
    apply_precision(policy)
    assert keras.mixed_precision.global_policy().name == policy
    model = build_model(input_shape=(32, 32, 1), num_classes=7, stages=(0, 1, 2, 3, 4), width=0.25, depth=0.2, top_filters=16, dropout=0.1)
    conv = model.get_layer("stage4_block1_expand_conv")
    assert conv.dtype_policy.name == policy
    assert conv.compute_dtype == compute and conv.variable_dtype == "float32"
    assert model.get_layer("head_bn").dtype_policy.name == policy
    out = model.get_layer("predictions")
    assert out.dtype_policy.name == "float32" and out.compute_dtype == "float32"
    y = model(np.zeros((2, 32, 32, 1), "float32"), training=False)
    assert keras.backend.standardize_dtype(y.dtype) == "float32"
    # float16 needs loss scaling; Keras's compile adds it for a mixed_float16 model.
    model.compile(optimizer=keras.optimizers.Adam(), loss="categorical_crossentropy")
    is_scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert is_scaled is (policy == "mixed_float16")


def test_unknown_policy_rejected() -> None:
    with pytest.raises(RuntimeConfigError):
        apply_precision("float64")


def test_compile_flag_reaches_the_model(keras_clean) -> None:
    from ferbench.model.efficientnetv2.build import build_model

    keras = keras_clean
    model = build_model(input_shape=(32, 32, 1), num_classes=7, stages=(0, 1), width=0.25, depth=0.2, top_filters=16, dropout=0.0)
    for on_gpu, expected in ((False, False), (True, True)):
        model.compile(optimizer=keras.optimizers.Adam(), loss="categorical_crossentropy", jit_compile=resolve_jit(rt(), on_gpu=on_gpu))
        assert model.jit_compile is expected
