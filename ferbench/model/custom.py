"""``model.arch: custom``: a user's Keras builder, ``model.builder: "package.module:function"``.

The function is called as ``function(input_shape, num_classes, **params)`` and returns
a Keras model taking ``input_shape`` images with pixel values in [0, 255] and giving
``num_classes`` probabilities. ``params`` are the spec's ``model.params`` and the model
hyperparameters the spec sets or searches (width, depth, dropout, top_filters,
drop_connect). Its cost is known only once it is built.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ferbench.model.family import ModelConfigError

if TYPE_CHECKING:  # pragma: no cover
    import keras

#: ``package.module:function`` (a dotted module path, a colon, a function name).
BUILDER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"


def load_builder(path: str) -> Callable[..., Any]:
    """The function ``package.module:function`` names (a located-style user error where it cannot be imported)."""
    if not re.match(BUILDER_PATTERN, path or ""):
        raise ModelConfigError(f"model.builder must be 'package.module:function', got {path!r}")
    module_name, func = path.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelConfigError(f"model.builder: cannot import {module_name} ({exc}); is it on PYTHONPATH?") from None
    fn = getattr(module, func, None)
    if not callable(fn):
        raise ModelConfigError(f"model.builder: {module_name} has no function {func}")
    return fn  # type: ignore[no-any-return]


def build_custom(path: str, input_shape: tuple[int, int, int], num_classes: int, params: Mapping[str, Any]) -> keras.Model:
    """Call the builder and check that what it returns is a model of the right input and output."""
    from ferbench._lazy import require

    keras = require("keras")
    model = load_builder(path)(tuple(input_shape), int(num_classes), **dict(params))
    if not isinstance(model, keras.Model):
        raise ModelConfigError(f"model.builder {path} returned {type(model).__name__}, not a keras.Model")
    got_in = tuple(model.inputs[0].shape[1:]) if model.inputs else ()
    got_out = tuple(model.outputs[0].shape[1:]) if model.outputs else ()
    if len(model.inputs) != 1 or got_in != tuple(input_shape):
        raise ModelConfigError(f"model.builder {path}: the model takes {got_in}, the data is {tuple(input_shape)}")
    if len(model.outputs) != 1 or got_out != (num_classes,):
        raise ModelConfigError(f"model.builder {path}: the model gives {got_out}, the spec has {num_classes} classes")
    return model
