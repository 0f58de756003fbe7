"""TFLite files: conversion (float32, float16 weights, int8 calibrated on training images) and the interpreter that runs them.

TFLite files run through the LiteRT interpreter (``ai-edge-litert``) where it is
installed, else through TensorFlow's own ``tf.lite.Interpreter`` (deprecated in favour of
LiteRT, same API); the record names the runtime.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench._lazy import native_output_held, require

if TYPE_CHECKING:
    import keras

    from ferbench.run.train.setup import RunData

#: Training images the int8 converter sees to calibrate activation ranges, and the seed that picks them.
CALIBRATION_IMAGES = 500
CALIBRATION_SEED = 0
#: Images per interpreter call when scoring a TFLite file (the last batch is padded).
SCORE_BATCH = 64

Predict = Callable[[np.ndarray], np.ndarray]


def calibration_images(data: RunData, n: int = CALIBRATION_IMAGES, seed: int = CALIBRATION_SEED) -> np.ndarray:
    """Up to ``n`` training images, picked at random with ``seed``, as float32 pixels in [0, 255]."""
    x = data.x["train"]
    pick = np.sort(np.random.default_rng(seed).choice(len(x), size=min(n, len(x)), replace=False))
    return np.asarray(x[pick], dtype=np.float32)


def to_tflite(model: keras.Model, fmt: str, calibration: np.ndarray | None = None) -> bytes:
    """The model as a TFLite flatbuffer: float32, float16 weights, or int8 calibrated on ``calibration``."""
    tf = require("tensorflow")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if fmt == "tflite-float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif fmt == "tflite-int8":
        if calibration is None or not len(calibration):
            raise ValueError("int8 needs calibration images")
        images = calibration

        def representative() -> Iterator[list[np.ndarray]]:
            for i in range(len(images)):
                yield [images[i:i + 1]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with native_output_held(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "statistics for quantized inputs were expected": the input stays float32
        blob: bytes = converter.convert()
    return blob


def interpreter_class() -> tuple[Any, str]:
    """``(Interpreter class, runtime name)``: LiteRT's where installed, else TensorFlow's ``tf.lite.Interpreter``."""
    try:
        import ai_edge_litert
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, f"litert {getattr(ai_edge_litert, '__version__', '?')}"
    except ImportError:
        tf = require("tensorflow")
        return tf.lite.Interpreter, f"tflite (tensorflow {tf.__version__})"


def interpreter(blob: bytes, batch_size: int, threads: int) -> Any:
    """A TFLite interpreter of ``blob`` whose input takes batches of ``batch_size``, tensors allocated."""
    cls, _ = interpreter_class()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice (the record names the runtime)
        with native_output_held():
            it = cls(model_content=blob, num_threads=threads)
    inp = it.get_input_details()[0]
    if int(inp["shape"][0]) != batch_size:
        it.resize_tensor_input(inp["index"], [batch_size, *[int(v) for v in inp["shape"][1:]]])
    with native_output_held():
        it.allocate_tensors()
    return it


def tflite_call(it: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``x -> probabilities`` through one interpreter (``x`` of its batch size, float32)."""
    inp, out = it.get_input_details()[0], it.get_output_details()[0]

    def call(x: np.ndarray) -> np.ndarray:
        it.set_tensor(inp["index"], x)
        it.invoke()
        return np.asarray(it.get_tensor(out["index"]), dtype=np.float32)

    return call


def tflite_predict(blob: bytes, threads: int, batch_size: int = SCORE_BATCH) -> Predict:
    """Probabilities of a TFLite model on uint8 images, in batches (the last one padded)."""
    call = tflite_call(interpreter(blob, batch_size, threads))

    def predict(x: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(x), batch_size):
            xb = np.asarray(x[i:i + batch_size], dtype=np.float32)
            n = len(xb)
            if n < batch_size:
                xb = np.concatenate([xb, np.zeros((batch_size - n, *xb.shape[1:]), np.float32)])
            out.append(call(xb)[:n])
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    return predict
