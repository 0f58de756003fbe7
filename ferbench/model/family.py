"""What a model family is: its stages, the hyperparameters it has, and where its table and builder live.

Plain Python (no TensorFlow). A family module (the package :mod:`ferbench.model.efficientnetv2`,
:mod:`~ferbench.model.mobilenetv3`, :mod:`~ferbench.model.resnet`,
:mod:`~ferbench.model.minixception`, :mod:`~ferbench.model.vgg`) holds its stage table as
data, one ``cost(config, input_shape, num_classes)`` that walks it without TensorFlow
and one ``build(config, input_shape, num_classes, ...)`` that walks the same table with
Keras. :mod:`ferbench.model.registry` lists the families by name.

Every family numbers its stages from 0 (the stem, or the first block of layers) and
its head is the stage after the last one, so ``model.stages`` — a prefix of the
stages — truncates every family the same way, and every built layer's name starts with
``stage{s}_`` or ``head_`` (the classifier is ``predictions``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ferbench.errors import UserInputError

#: The model hyperparameters a family may have, in the order records list them.
MODEL_HYPERPARAMETERS = ("width", "depth", "dropout", "top_filters", "drop_connect")

#: What each of them means, for messages and ``ferbench model list``.
MEANING = {
    "width": "width multiplier of every stage's channels",
    "depth": "depth multiplier of every stage's blocks",
    "dropout": "dropout before the classifier",
    "top_filters": "width of the head (before width scaling)",
    "drop_connect": "stochastic-depth rate",
}


class ModelConfigError(UserInputError):
    """A model configuration that cannot be built (bad stage list, coefficients, rates)."""


@dataclass(frozen=True)
class ModelConfig:
    """One buildable model: the family, its kept stages and the values of the hyperparameters it has.

    A hyperparameter the family does not have is ``None``.
    """

    arch: str
    stages: tuple[int, ...]
    width: float | None = None
    depth: float | None = None
    dropout: float | None = None
    top_filters: int | None = None
    drop_connect: float | None = None
    #: Batch-norm momentum of every batch norm (``None``: the family's own, :attr:`Family.bn_momentum`).
    bn_momentum: float | None = None
    #: Start every residual branch at zero: its last batch norm's gamma 0 (the family's :attr:`Family.zero_init_last`).
    zero_init_last: bool = False
    #: How the first layer scales the [0, 255] pixels (:mod:`ferbench.model.inputs`); ``None``: as Keras's preprocessing does.
    inputs: str | None = None
    #: Built with the family's small-input adaptation (:attr:`Family.small_input`); ``False``: as Keras builds it.
    small_input: bool = False

    def get(self, name: str) -> Any:
        """The value of a hyperparameter (``None`` where the family lacks it)."""
        return getattr(self, name)

    def need(self, name: str) -> Any:
        """The value of a hyperparameter the family has (raises if it was not given)."""
        value = getattr(self, name)
        if value is None:
            raise ModelConfigError(f"model.{name} is needed by {self.arch} and was not given")
        return value


@dataclass(frozen=True)
class Family:
    """A registered architecture: its stages, hyperparameters, defaults and module."""

    name: str
    title: str
    #: Where the definition comes from (Keras application, paper, released code).
    reference: str
    #: The operator of each stage, stage 0 first (the head is the stage after the last).
    stages: tuple[str, ...]
    head: str
    #: The model hyperparameters it has (a subset of :data:`MODEL_HYPERPARAMETERS`).
    takes: tuple[str, ...]
    defaults: Mapping[str, float | int] = field(default_factory=dict)
    #: The module with ``cost`` and ``build`` (and ``keras_layer_name`` where ImageNet weights exist).
    module: str = ""
    #: The ``keras.applications`` function whose ImageNet weights fit the family, if any.
    imagenet: str | None = None
    #: Keyword arguments that function needs besides ``include_top``, ``weights`` and ``input_shape``.
    imagenet_kwargs: Mapping[str, Any] = field(default_factory=dict)
    #: Its ImageNet weights expect BGR input (Keras's "caffe" preprocessing): the first kernel's channels are reversed for RGB input.
    imagenet_bgr: bool = False
    #: The batch-norm momentum of its reference (Keras's, for ImageNet-scale training); ``None``: no batch norm.
    #: A trial trains with :func:`ferbench.model.batchnorm.training_momentum` of it unless ``model.bn_momentum`` is set.
    bn_momentum: float | None = None
    #: The suffix of the layer name of each residual branch's last batch norm (``bn3``: ``stage2_block1_bn3``), whose gamma a
    #: model trained from scratch starts at zero (Goyal et al. 2017; timm's ``zero_init_last``); ``None``: not done.
    zero_init_last: str | None = None
    #: How its first layer scales [0, 255] pixels, where no ImageNet statistics are involved (:mod:`ferbench.model.inputs`).
    inputs: str = "-1..1"
    #: The ImageNet statistics its Keras preprocessing uses (``imagenet_mean``; ``imagenet_mean_std``, RGB input only), which
    #: fit its ImageNet weights; a trial from scratch scales to [-1, 1] instead. ``None``: none.
    inputs_imagenet: str | None = None
    #: It has an adaptation for inputs far smaller than ImageNet's, applied from scratch where its module's
    #: ``small_input(config, input_shape)`` says so (MobileNetV3: the stem's stride 1; :mod:`ferbench.model.inputs`).
    small_input: bool = False

    @property
    def head_stage(self) -> int:
        """The head's number in per-stage tables: one past the last stage."""
        return len(self.stages)

    @property
    def all_stages(self) -> tuple[int, ...]:
        return tuple(range(len(self.stages)))

    def check_stages(self, stages: tuple[int, ...] | list[int] | None) -> tuple[int, ...]:
        """``stages`` as a tuple if it is a prefix ``0..k`` of this family's stages (``None``: all), else raise."""
        if stages is None:
            return self.all_stages
        kept = tuple(int(s) for s in stages)
        if not kept or kept != tuple(range(len(kept))) or len(kept) > len(self.stages):
            raise ModelConfigError(
                f"model.stages must be a prefix of {list(self.all_stages)} starting at 0 (stages can only be "
                f"removed from the end), got {list(kept)}"
            )
        return kept

    def config(self, stages: tuple[int, ...] | list[int] | None = None, bn_momentum: float | None = None, **values: Any) -> ModelConfig:
        """A :class:`ModelConfig` of this family: given values over its defaults.

        A value for a hyperparameter the family does not have is refused; ``None`` means "the default"
        (for ``bn_momentum``: the family's own).
        """
        extra = [k for k, v in values.items() if v is not None and k not in self.takes]
        if extra:
            raise ModelConfigError("; ".join(self.lacks(k) for k in extra))
        unknown = [k for k in values if k not in MODEL_HYPERPARAMETERS]
        if unknown:
            raise ModelConfigError(f"unknown model hyperparameter(s): {', '.join(unknown)}")
        filled = {k: (values.get(k) if values.get(k) is not None else self.defaults.get(k)) for k in self.takes}

        def real(name: str) -> float | None:
            v = filled.get(name)
            return None if v is None else float(v)

        top = filled.get("top_filters")
        return ModelConfig(arch=self.name, stages=self.check_stages(stages), width=real("width"), depth=real("depth"),
                           dropout=real("dropout"), top_filters=None if top is None else int(top), drop_connect=real("drop_connect"),
                           bn_momentum=None if bn_momentum is None else float(bn_momentum))

    def lacks(self, name: str) -> str:
        """The message for a hyperparameter this family does not have."""
        has = ", ".join(self.takes) or "none of them"
        return f"model.{name}: {self.name} has no {name} ({MEANING.get(name, name)}); it takes {has}"


class StagedBlock:
    """What every family's block plan (a frozen dataclass deriving from this) says about where it sits.

    ``stage`` and ``block`` (1-based within the stage) name the block's layers; a block keeping
    its resolution and width adds its input back (an identity shortcut).
    """

    stage: int
    block: int
    strides: int
    input_filters: int

    if TYPE_CHECKING:  # a field or a property of the deriving plan (no class attribute: it would shadow the field)

        @property
        def output_filters(self) -> int: ...

    @property
    def prefix(self) -> str:
        """Layer-name prefix, e.g. ``stage4_block2_``."""
        return f"stage{self.stage}_block{self.block}_"

    @property
    def residual(self) -> bool:
        """An identity shortcut: the block keeps the resolution and the width."""
        return self.strides == 1 and self.input_filters == self.output_filters


def with_stages(config: ModelConfig, stages: tuple[int, ...]) -> ModelConfig:
    """The same configuration with other kept stages."""
    return replace(config, stages=stages)


_STAGE_NAME = re.compile(r"^stage(\d+)_")


def layer_stage(layer_name: str, head_stage: int) -> int | None:
    """The stage a built layer belongs to, ``head_stage`` for the head, ``None`` for the input."""
    m = _STAGE_NAME.match(layer_name)
    if m:
        return int(m.group(1))
    if layer_name.startswith("head_") or layer_name == "predictions":
        return head_stage
    return None
