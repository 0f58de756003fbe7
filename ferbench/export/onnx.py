"""ONNX files: converted with tf2onnx at a fixed opset, run through ONNX Runtime on the CPU.

The graph takes float32 pixels in [0, 255] with a free batch dimension, like the
Keras model (its rescaling is inside), and returns class probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench._lazy import native_output_held, require

if TYPE_CHECKING:
    import keras

#: The ONNX opset the graph is written for (ONNX Runtime 1.16 and later run it); recorded with every export.
OPSET = 17
INPUT_NAME = "images"

Predict = Callable[[np.ndarray], np.ndarray]


def to_onnx(model: keras.Model, input_shape: tuple[int, int, int], opset: int = OPSET) -> tuple[bytes, dict[str, Any]]:
    """``(the model as ONNX bytes, the converter block of the record)``."""
    tf = require("tensorflow")
    tf2onnx = require("tf2onnx")
    signature = (tf.TensorSpec((None, *input_shape), tf.float32, name=INPUT_NAME),)
    forward = tf.function(lambda x: model(x, training=False))
    with native_output_held():
        proto, _ = tf2onnx.convert.from_function(forward, input_signature=signature, opset=opset)
    converter = {"name": "tf2onnx", "version": str(tf2onnx.__version__), "opset": int(opset)}
    return bytes(proto.SerializeToString()), converter


def session(blob: bytes, threads: int) -> Any:
    """An ONNX Runtime inference session of ``blob`` on the CPU with ``threads`` intra-op threads."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(blob, sess_options=options, providers=["CPUExecutionProvider"])


def runtime_name() -> str:
    return f"onnxruntime {require('onnxruntime').__version__}"


def onnx_call(sess: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``x -> probabilities`` through one session (``x`` float32, any batch size)."""
    name = sess.get_inputs()[0].name

    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(sess.run(None, {name: x})[0], dtype=np.float32)

    return call


def onnx_predict(sess: Any, batch_size: int) -> Predict:
    """Probabilities of an ONNX model on uint8 images, in batches of ``batch_size``."""
    call = onnx_call(sess)

    def predict(x: np.ndarray) -> np.ndarray:
        return np.concatenate([call(np.asarray(x[i:i + batch_size], np.float32)) for i in range(0, len(x), batch_size)])

    return predict
