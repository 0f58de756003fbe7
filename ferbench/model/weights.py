"""Initial weights: Keras's ImageNet weights, or a ``.keras`` / ``.weights.h5`` file, loaded where shapes match.

A tensor of the model is loaded from the tensor of the source layer with the same
name (ImageNet: the layer Keras's application names so, see each family's
``keras_layer_name``) in the same position, when the shapes agree; otherwise it keeps
its initial value and the report says why. So a truncated model takes the stages it
kept, a rescaled one whatever still fits. A ``.weights.h5`` file holds no layer names
(Keras stores weights by layer class and position: ``layers/conv2d_3/vars/0``), so its
tensors are matched by that position instead. One conversion is made: where the
model's first convolution takes one grey channel and the source's three (RGB), the
source kernel is summed over its input channels, which is what the RGB network
computes on a grey image repeated three times. ferbench downloads nothing: ImageNet
weights come through Keras's own loading (``keras.applications``, which fetches them
into ``~/.keras/models`` where it can).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench._lazy import require
from ferbench.errors import FerbenchError
from ferbench.model.family import ModelConfig

if TYPE_CHECKING:  # pragma: no cover
    import keras

IMAGENET = "imagenet"
NONE = "none"

#: Why a tensor of the model was not loaded.
NO_LAYER = "no layer of that name in the source"
NO_POSITION = "no layer of that class and position in the source"
FEWER = "the source layer has fewer tensors"
SHAPE = "shape differs"


class WeightsError(FerbenchError):
    """Weights that cannot be read (no file, not a model, ImageNet weights out of reach)."""


@dataclass(frozen=True)
class WeightsReport:
    """What loading did: tensors of the model loaded and left as initialised (and why), source tensors unused."""

    source: str
    loaded: int
    skipped: int
    skipped_because: Mapping[str, int] = field(default_factory=dict)
    unused: int = 0
    adapted: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "loaded": self.loaded, "skipped": self.skipped,
                "skipped_because": dict(self.skipped_because), "unused": self.unused, "adapted": list(self.adapted)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WeightsReport:
        return cls(source=str(d["source"]), loaded=int(d["loaded"]), skipped=int(d["skipped"]),
                   skipped_because=dict(d.get("skipped_because") or {}), unused=int(d.get("unused", 0)),
                   adapted=tuple(d.get("adapted") or ()))


def variables(layer: Any) -> list[Any]:
    """A layer's variables in the order Keras saves them (trainable first, whatever ``trainable`` says now)."""
    store: dict[str, Any] = {}
    layer.save_own_variables(store)
    return [store[str(i)] for i in range(len(store))]


def _array(v: Any) -> np.ndarray:
    """A variable's value as a NumPy array."""
    return np.asarray(v.numpy() if hasattr(v, "numpy") else v)


def _keras_class(layer: Any) -> str:
    return next(c.__name__ for c in type(layer).__mro__ if c.__module__.startswith("keras."))


def _snake(name: str) -> str:
    """Keras's ``naming.to_snake_case``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def position_keys(model: keras.Model) -> dict[str, str]:
    """Layer name -> the key Keras's weights file stores it under (class name and a counter)."""
    used: Counter[str] = Counter()
    out = {}
    for layer in model.layers:
        base = _snake(_keras_class(layer))
        out[layer.name] = base if used[base] == 0 else f"{base}_{used[base]}"
        used[base] += 1
    return out


def _from_model(source: keras.Model) -> dict[str, list[np.ndarray]]:
    return {layer.name: [_array(v) for v in variables(layer)] for layer in source.layers if variables(layer)}


def _from_h5(path: Path) -> dict[str, list[np.ndarray]]:
    import h5py

    out: dict[str, list[np.ndarray]] = {}
    with h5py.File(path, "r") as f:
        group = f.get("layers")
        if group is None:
            raise WeightsError(f"{path}: not a Keras 3 weights file (no 'layers' group)")
        for key in group:
            vars_ = group[key].get("vars")
            if vars_ is None or not len(vars_):
                continue
            # A model saved with ferbench's fused batch norm names that class; it holds Keras's variables.
            name = re.sub(r"^fused_batch_normalization", "batch_normalization", key)
            out[name] = [np.asarray(vars_[str(i)]) for i in range(len(vars_))]
    return out


def read_source(source: str) -> tuple[dict[str, list[np.ndarray]], bool]:
    """The tensors of a ``.keras`` or ``.weights.h5`` file by layer; True when keyed by position (``.weights.h5``)."""
    path = Path(source).expanduser()
    if not path.is_file():
        raise WeightsError(f"model.weights: {source} is not a file (give a .keras or .weights.h5 file, imagenet or none)")
    if path.name.endswith(".weights.h5"):
        try:
            return _from_h5(path), True
        except OSError as exc:
            raise WeightsError(f"model.weights: {source} is not a weights file ({exc})") from None
    if path.suffix != ".keras":
        raise WeightsError(f"model.weights: {source} must end in .keras or .weights.h5")
    keras = require("keras")
    try:
        loaded = keras.models.load_model(path, compile=False)
    except Exception as exc:  # a damaged file, or layers whose code is not importable here
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise WeightsError(f"model.weights: cannot load {source}: {first}") from None
    tensors = _from_model(loaded)
    del loaded
    return tensors, False


def imagenet_source(model: keras.Model, config: ModelConfig, input_shape: tuple[int, int, int]) -> tuple[dict[str, list[np.ndarray]], int, str]:
    """The ImageNet tensors for ``model``'s layers (by ferbench name), the unused count, and the source's name."""
    from ferbench.model.registry import family, keras_layer_name

    fam = family(config.arch)
    if fam.imagenet is None:
        raise WeightsError(f"model.weights: Keras has no ImageNet weights for {config.arch}")
    keras = require("keras")
    kwargs = dict(fam.imagenet_kwargs)
    if config.arch.startswith("mobilenetv3"):
        # Keras has MobileNetV3 weights for alpha 0.75 and 1.0; another width loads what fits of 1.0's.
        kwargs["alpha"] = float(config.width) if config.width in (0.75, 1.0) else 1.0
    h, w = max(32, int(input_shape[0])), max(32, int(input_shape[1]))
    try:
        app = getattr(keras.applications, fam.imagenet)(include_top=False, weights="imagenet", input_shape=(h, w, 3), **kwargs)
    except Exception as exc:  # no network, no cached file, a corrupt download
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise WeightsError(f"model.weights: imagenet: Keras could not load the ImageNet weights of {fam.imagenet} ({first}); "
                           "Keras fetches them into ~/.keras/models/ where it can reach them, or give a weights file") from None
    by_keras = {layer.name: layer for layer in app.layers}
    out: dict[str, list[np.ndarray]] = {}
    taken: set[str] = set()
    for layer in model.layers:
        k = keras_layer_name(config.arch, layer.name)
        if k is not None and k in by_keras and variables(by_keras[k]):
            out[layer.name] = [_array(v) for v in variables(by_keras[k])]
            taken.add(k)
    unused = sum(len(variables(layer)) for layer in app.layers if layer.name not in taken)
    name = f"{IMAGENET} (keras.applications.{fam.imagenet}{', alpha ' + str(kwargs['alpha']) if 'alpha' in kwargs else ''})"
    del app
    return out, unused, name


def _first_conv(model: keras.Model) -> str | None:
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and len(kernel.shape) == 4:
            return str(layer.name)
    return None


def load_weights(model: keras.Model, source: str, config: ModelConfig | None, input_shape: tuple[int, int, int]) -> WeightsReport:
    """Load ``source`` (``imagenet`` or a file) into ``model`` where names and shapes match; say what happened."""
    from ferbench.model.registry import family

    bgr = False
    if source == IMAGENET:
        if config is None:
            raise WeightsError("model.weights: imagenet needs a registered architecture, not a custom builder")
        tensors, unused, shown = imagenet_source(model, config, input_shape)
        by_position = False
        bgr = family(config.arch).imagenet_bgr
    else:
        tensors, by_position = read_source(source)
        shown, unused = source, 0
    keys = position_keys(model) if by_position else {layer.name: layer.name for layer in model.layers}
    first = _first_conv(model)
    loaded = 0
    why: Counter[str] = Counter()
    adapted: list[str] = []
    taken: set[str] = set()
    for layer in model.layers:
        targets = variables(layer)
        if not targets:
            continue
        src = tensors.get(keys[layer.name])
        if src is None:
            why[NO_POSITION if by_position else NO_LAYER] += len(targets)
            continue
        taken.add(keys[layer.name])
        for i, var in enumerate(targets):
            if i >= len(src):
                why[FEWER] += 1
                continue
            value = src[i]
            want = tuple(var.shape)
            if layer.name == first and i == 0 and value.ndim == 4:
                if bgr and value.shape[2] == 3:
                    value = value[:, :, ::-1, :]  # Keras's caffe weights see BGR; ferbench feeds RGB
                    adapted.append(f"{layer.name}: kernel's input channels reversed (BGR weights, RGB input)")
                if value.shape[2] == 3 and want[2] == 1 and value.shape[:2] + value.shape[3:] == want[:2] + want[3:]:
                    value = value.sum(axis=2, keepdims=True)
                    adapted.append(f"{layer.name}: RGB kernel summed over its 3 input channels for grey input")
            if tuple(value.shape) != want:
                why[SHAPE] += 1
                continue
            var.assign(value.astype(np.dtype(var.dtype), copy=False))
            loaded += 1
    if source != IMAGENET:  # ImageNet's unused tensors were counted against the whole application
        unused = sum(len(v) for k, v in tensors.items() if k not in taken)
    skipped = sum(why.values())
    return WeightsReport(shown, loaded, skipped, dict(sorted(why.items())), unused, tuple(adapted))
