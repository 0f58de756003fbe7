"""Every model family by name, and the two things every family does: cost and build.

Plain Python: importing this module, and computing any cost, imports no TensorFlow
(``validate``, ``plan``, ``report`` and ``model list`` rely on it). Building imports the
family's Keras code when asked.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ferbench.model import efficientnetv2, minixception, mobilenetv3, resnet, vgg
from ferbench.model.counting import Cost
from ferbench.model.family import Family, ModelConfig, ModelConfigError

if TYPE_CHECKING:  # pragma: no cover
    import keras

#: ``model.arch: custom`` with ``model.builder: "package.module:function"``: a user's Keras builder.
CUSTOM = "custom"

#: The registered families, in the order ``ferbench model list`` shows them.
FAMILIES: dict[str, Family] = {
    f.name: f for f in (*efficientnetv2.FAMILIES, *mobilenetv3.FAMILIES, *resnet.FAMILIES, *minixception.FAMILIES, *vgg.FAMILIES)
}

_BUILT_IN = frozenset(FAMILIES)

#: Every value ``model.arch`` accepts out of the box (the schema's enum lists them).
ARCHS: tuple[str, ...] = (*FAMILIES, CUSTOM)


def register(*families: Family) -> None:
    """Add families defined outside ferbench (each ``Family.module`` has ``cost`` and ``build``).

    A module that defines a family calls this at import; once it is imported, the family is
    listed by ``ferbench model``, accepted by ``model.arch`` and validated, planned, costed and
    built like a built-in one (docs/architecture.md, "Add a model family"). A name already
    registered is refused.
    """
    for fam in families:
        if fam.name in FAMILIES or fam.name == CUSTOM:
            raise ModelConfigError(f"model family {fam.name!r} is already registered")
        if not fam.module:
            raise ModelConfigError(f"model family {fam.name!r}: Family.module must name the module with cost() and build()")
    FAMILIES.update((f.name, f) for f in families)


def unregister(*names: str) -> None:
    """Remove families :func:`register` added (the built-in ones stay)."""
    for name in names:
        if name in _BUILT_IN:
            raise ModelConfigError(f"model family {name!r} is built in and cannot be removed")
        FAMILIES.pop(name, None)


def archs() -> tuple[str, ...]:
    """Every value ``model.arch`` accepts now: the built-in families, those registered since, and ``custom``."""
    return (*FAMILIES, CUSTOM)


def family(name: str) -> Family:
    """The family named ``name`` (a :class:`ModelConfigError` naming the known ones otherwise)."""
    try:
        return FAMILIES[name]
    except KeyError:
        if name == CUSTOM:
            raise ModelConfigError("model.arch: custom has no stage table; its builder defines the model") from None
        raise ModelConfigError(f"model.arch: unknown architecture {name!r}; known: {', '.join(archs())}") from None


def _module(fam: Family) -> Any:
    return importlib.import_module(fam.module)


def small_input_applies(config: ModelConfig, input_shape: tuple[int, int, int]) -> bool:
    """Whether the family's small-input adaptation changes this model at this input size (never for a family without one)."""
    fam = family(config.arch)
    return fam.small_input and bool(_module(fam).small_input(config, tuple(int(v) for v in input_shape)))


def family_cost(config: ModelConfig, input_shape: tuple[int, int, int], num_classes: int) -> Cost:
    """Parameters (as ``count_params()``) and MACs per image of the model :func:`build_family` makes."""
    cost: Cost = _module(family(config.arch)).cost(config, tuple(int(v) for v in input_shape), int(num_classes))
    return cost


def build_family(config: ModelConfig, input_shape: tuple[int, int, int], num_classes: int, *, preprocessing: bool = True,
                 fused_batch_norm: bool = True) -> keras.Model:
    """The uncompiled Keras model of a configuration: its family's builder, walking the family's table.

    Like Keras's applications the model takes pixel values in [0, 255] and rescales them
    itself (``preprocessing=False`` leaves that out); its softmax output is float32 under
    any mixed-precision policy. ``config.bn_momentum`` replaces the family's batch-norm momentum, and
    ``config.zero_init_last`` starts each residual branch's last batch norm at gamma 0.
    """
    model: keras.Model = _module(family(config.arch)).build(config, tuple(int(v) for v in input_shape), int(num_classes),
                                                            preprocessing=preprocessing, fused_batch_norm=fused_batch_norm)
    if config.bn_momentum is not None:
        from ferbench.model.blocks import set_bn_momentum

        set_bn_momentum(model, config.bn_momentum)
    suffix = family(config.arch).zero_init_last
    if config.zero_init_last and suffix:
        from ferbench.model.blocks import zero_gamma

        zero_gamma(model, suffix)
    return model


def keras_layer_name(arch_name: str, layer_name: str) -> str | None:
    """The name Keras's application gives a layer of this family (for ImageNet weights), if any."""
    fam = family(arch_name)
    if fam.imagenet is None:
        return None
    name: str | None = _module(fam).keras_layer_name(layer_name, arch_name)
    return name
