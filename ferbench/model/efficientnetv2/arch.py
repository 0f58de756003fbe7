"""EfficientNetV2 as data: the stage tables, Keras's rounding rules, and the expanded block list.

Everything here is plain Python (no TensorFlow), so the cost model, the planner and
the reports can use it. The builder in :mod:`ferbench.model.efficientnetv2.build` walks the same
expanded block list, which is what keeps the analytic counts and the built model equal.

The tables are ``keras.src.applications.efficientnet_v2.DEFAULT_BLOCKS_ARGS`` exactly:
one for B0-B3 (Keras scales B1-B3 by their width and depth coefficients), one each for
S, M and L. ``efficientnetv2-s`` is ferbench's default architecture. Note that thesis Table 4.3 prints stage 5 as
"MBConv4, stride 2"; the reference implementation (and the EfficientNetV2 paper) uses
expansion 6 and stride 1 for stage 5, and expansion 6 for stage 6. We follow Keras,
because parameter parity with it is what the thesis's numbers rest on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ferbench.model.family import Family, ModelConfig, ModelConfigError, StagedBlock
from ferbench.model.scaling import DEPTH_DIVISOR, MIN_DEPTH, round_filters, round_repeats

#: ferbench's default architecture (the thesis's network).
ARCH = "efficientnetv2-s"

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-3  # Keras BatchNormalization's default; EfficientNetV2 does not change it
ACTIVATION = "swish"

#: Stem: conv3x3 stride 2 with ``round_filters(<first stage's input filters>)`` channels (stage 0).
STEM_FILTERS = 24  # EfficientNetV2-S's
STEM_KERNEL = 3
STEM_STRIDES = 2

#: Keras's head conv1x1 width before width scaling (the thesis's numTopFilters replaces it).
DEFAULT_TOP_FILTERS = 1280

#: Stage index of EfficientNetV2-S's head in per-stage tables (thesis Table 4.3 numbers it 7).
HEAD_STAGE = 7

#: The two block kinds (Kerass ``conv_type`` 1 and 0).
BlockKind = Literal["fused_mbconv", "mbconv"]
FUSED: BlockKind = "fused_mbconv"
MBCONV: BlockKind = "mbconv"

__all__ = ["DEPTH_DIVISOR", "MIN_DEPTH", "ModelConfigError", "round_filters", "round_repeats"]  # re-exported


@dataclass(frozen=True)
class StageArgs:
    """One blocks stage, as in Keras's ``blocks_args`` (unscaled)."""

    stage: int
    kind: BlockKind
    kernel_size: int
    num_repeat: int
    input_filters: int
    output_filters: int
    expand_ratio: int
    se_ratio: float
    strides: int


def _table(*rows: tuple[BlockKind, int, int, int, int, int, float, int]) -> tuple[StageArgs, ...]:
    """Stages 1.. from Keras's rows (kind, kernel, repeats, in, out, expansion, SE ratio, stride)."""
    return tuple(StageArgs(i + 1, *row) for i, row in enumerate(rows))


#: Keras's ``DEFAULT_BLOCKS_ARGS``: the blocks stages (stage 0 is the stem, described by STEM_*).
TABLES: dict[str, tuple[StageArgs, ...]] = {
    "b": _table(
        (FUSED, 3, 1, 32, 16, 1, 0.0, 1),
        (FUSED, 3, 2, 16, 32, 4, 0.0, 2),
        (FUSED, 3, 2, 32, 48, 4, 0.0, 2),
        (MBCONV, 3, 3, 48, 96, 4, 0.25, 2),
        (MBCONV, 3, 5, 96, 112, 6, 0.25, 1),
        (MBCONV, 3, 8, 112, 192, 6, 0.25, 2),
    ),
    "s": _table(
        (FUSED, 3, 2, 24, 24, 1, 0.0, 1),
        (FUSED, 3, 4, 24, 48, 4, 0.0, 2),
        (FUSED, 3, 4, 48, 64, 4, 0.0, 2),
        (MBCONV, 3, 6, 64, 128, 4, 0.25, 2),
        (MBCONV, 3, 9, 128, 160, 6, 0.25, 1),
        (MBCONV, 3, 15, 160, 256, 6, 0.25, 2),
    ),
    "m": _table(
        (FUSED, 3, 3, 24, 24, 1, 0.0, 1),
        (FUSED, 3, 5, 24, 48, 4, 0.0, 2),
        (FUSED, 3, 5, 48, 80, 4, 0.0, 2),
        (MBCONV, 3, 7, 80, 160, 4, 0.25, 2),
        (MBCONV, 3, 14, 160, 176, 6, 0.25, 1),
        (MBCONV, 3, 18, 176, 304, 6, 0.25, 2),
        (MBCONV, 3, 5, 304, 512, 6, 0.25, 1),
    ),
    "l": _table(
        (FUSED, 3, 4, 32, 32, 1, 0.0, 1),
        (FUSED, 3, 7, 32, 64, 4, 0.0, 2),
        (FUSED, 3, 7, 64, 96, 4, 0.0, 2),
        (MBCONV, 3, 10, 96, 192, 4, 0.25, 2),
        (MBCONV, 3, 19, 192, 224, 6, 0.25, 1),
        (MBCONV, 3, 25, 224, 384, 6, 0.25, 2),
        (MBCONV, 3, 7, 384, 640, 6, 0.25, 1),
    ),
}


@dataclass(frozen=True)
class Variant:
    """One Keras model of the family: its table and Keras's defaults for it."""

    table: str  # key of TABLES
    width: float
    depth: float
    dropout: float  # Keras's dropout_rate before the classifier
    keras: str  # the keras.applications function

    @property
    def stages(self) -> tuple[StageArgs, ...]:
        return TABLES[self.table]


#: Keras's ``EfficientNetV2B0`` ... ``EfficientNetV2L``: table, width and depth coefficients, dropout.
VARIANTS: dict[str, Variant] = {
    "efficientnetv2-b0": Variant("b", 1.0, 1.0, 0.2, "EfficientNetV2B0"),
    "efficientnetv2-b1": Variant("b", 1.0, 1.1, 0.2, "EfficientNetV2B1"),
    "efficientnetv2-b2": Variant("b", 1.1, 1.2, 0.3, "EfficientNetV2B2"),
    "efficientnetv2-b3": Variant("b", 1.2, 1.4, 0.3, "EfficientNetV2B3"),
    "efficientnetv2-s": Variant("s", 1.0, 1.0, 0.2, "EfficientNetV2S"),
    "efficientnetv2-m": Variant("m", 1.0, 1.0, 0.3, "EfficientNetV2M"),
    "efficientnetv2-l": Variant("l", 1.0, 1.0, 0.4, "EfficientNetV2L"),
}

#: Stages 1-6 of EfficientNetV2-S (stage 0 is the stem, described by the STEM_* constants).
STAGES: tuple[StageArgs, ...] = TABLES["s"]

ALL_STAGES: tuple[int, ...] = tuple(range(len(STAGES) + 1))


def variant(arch: str) -> Variant:
    """The variant named ``arch`` (``efficientnetv2-b0`` ... ``-l``)."""
    try:
        return VARIANTS[arch]
    except KeyError:
        raise ModelConfigError(f"unknown EfficientNetV2 variant {arch!r}; known: {', '.join(VARIANTS)}") from None


def operator(a: StageArgs) -> str:
    """A stage's operator in the words of thesis Table 4.3: ``MBConv4 k3x3 SE0.25``."""
    name = "Fused-MBConv" if a.kind == FUSED else "MBConv"
    se = f" SE{a.se_ratio:g}" if a.se_ratio else ""
    return f"{name}{a.expand_ratio} k{a.kernel_size}x{a.kernel_size}{se}"


def _family(arch: str, v: Variant) -> Family:
    letter = arch.rsplit("-", 1)[1].upper()
    return Family(
        name=arch,
        title=f"EfficientNetV2-{letter}",
        reference=f"keras.applications.{v.keras} (Tan & Le 2021): DEFAULT_BLOCKS_ARGS, width {v.width:g}, depth {v.depth:g}",
        stages=(f"Conv{STEM_KERNEL}x{STEM_KERNEL}",) + tuple(operator(a) for a in v.stages),
        head="Conv1x1 & Pool & FC",
        takes=("width", "depth", "dropout", "top_filters", "drop_connect"),
        defaults={"width": v.width, "depth": v.depth, "dropout": v.dropout, "top_filters": DEFAULT_TOP_FILTERS, "drop_connect": 0.2},
        module="ferbench.model.efficientnetv2.family",
        bn_momentum=BN_MOMENTUM,
        imagenet=v.keras,
        # Keras's B0-B3 keep EfficientNet (v1)'s ImageNet normalisation for RGB input.
        inputs_imagenet="imagenet_mean_std" if v.table == "b" else None,
    )


#: The seven EfficientNetV2 families, by name.
FAMILIES: tuple[Family, ...] = tuple(_family(arch, v) for arch, v in VARIANTS.items())


def check_stages(stages: tuple[int, ...] | list[int], arch: str = ARCH) -> tuple[int, ...]:
    """Return ``stages`` as a tuple if it is a prefix ``0..k`` of the variant's stages, else raise."""
    kept = tuple(int(s) for s in stages)
    every = tuple(range(len(variant(arch).stages) + 1))
    if not kept or kept != tuple(range(len(kept))) or len(kept) > len(every):
        raise ModelConfigError(
            f"model.stages must be a prefix of {list(every)} starting at 0 (stages can only be "
            f"removed from the end), got {list(kept)}"
        )
    return kept


def _check_coefficients(width: float, depth: float, top_filters: int) -> None:
    problems = []
    if not width > 0:
        problems.append(f"model.width must be > 0, got {width}")
    if not depth > 0:
        problems.append(f"model.depth must be > 0, got {depth}")
    if int(top_filters) != top_filters or top_filters < 1:
        problems.append(f"model.top_filters must be a positive integer, got {top_filters}")
    if problems:
        raise ModelConfigError("; ".join(problems))


@dataclass(frozen=True)
class BlockPlan(StagedBlock):
    """One block after width/depth scaling: what the builder creates and the cost model counts."""

    stage: int
    block: int  # 1-based within the stage
    kind: BlockKind
    kernel_size: int
    strides: int
    input_filters: int
    output_filters: int
    expand_ratio: int
    se_ratio: float
    #: Stochastic-depth dropout rate on the residual branch (0 = no dropout layer).
    drop_rate: float

    @property
    def expanded_filters(self) -> int:
        return self.input_filters * self.expand_ratio

    @property
    def se_filters(self) -> int:
        """Squeeze width: from the block's input filters, as Keras does (0 when no SE)."""
        if 0 < self.se_ratio <= 1:
            return max(1, int(self.input_filters * self.se_ratio))
        return 0


@dataclass(frozen=True)
class Plan:
    """The scaled network: stem width, every block, head width."""

    stages: tuple[int, ...]
    stem_filters: int
    blocks: tuple[BlockPlan, ...]
    head_filters: int

    def stage_blocks(self, stage: int) -> tuple[BlockPlan, ...]:
        return tuple(b for b in self.blocks if b.stage == stage)


def expand(*, stages: tuple[int, ...], width: float, depth: float, top_filters: int, drop_connect: float = 0.2,
           arch: str = ARCH) -> Plan:
    """Scale the stage table by width and depth and list every block, in Keras's order.

    Stochastic depth follows Keras literally: block ``b`` (0-based over the whole
    network) gets dropout rate ``drop_connect * b / blocks`` on its residual branch, where
    ``blocks`` is the *unscaled* number of blocks of the kept stages. (Keras names the
    argument ``survival_probability`` but uses it as a drop rate; with depth > 1 the last
    rates exceed ``drop_connect``.)
    """
    kept = check_stages(stages, arch)
    _check_coefficients(width, depth, top_filters)
    every = variant(arch).stages
    # Keras's stem has the first blocks stage's input width, whether or not that stage is kept.
    stem = round_filters(every[0].input_filters, width)
    table = [a for a in every if a.stage in kept]
    unscaled_blocks = float(sum(a.num_repeat for a in table))
    blocks: list[BlockPlan] = []
    b = 0
    for args in table:
        input_filters = round_filters(args.input_filters, width)
        output_filters = round_filters(args.output_filters, width)
        repeats = round_repeats(args.num_repeat, depth)
        for j in range(repeats):
            blocks.append(
                BlockPlan(
                    stage=args.stage,
                    block=j + 1,
                    kind=args.kind,
                    kernel_size=args.kernel_size,
                    # Only the first block of a stage changes resolution and width.
                    strides=args.strides if j == 0 else 1,
                    input_filters=input_filters if j == 0 else output_filters,
                    output_filters=output_filters,
                    expand_ratio=args.expand_ratio,
                    se_ratio=args.se_ratio,
                    drop_rate=drop_connect * b / unscaled_blocks,
                )
            )
            b += 1
    head = round_filters(int(top_filters), width)
    return Plan(stages=kept, stem_filters=stem, blocks=tuple(blocks), head_filters=head)


def keras_blocks_args(stages: tuple[int, ...], arch: str = ARCH) -> list[dict[str, Any]]:
    """The kept blocks stages in Keras's ``blocks_args`` format (for parity checks)."""
    kept = check_stages(stages, arch)
    return [
        {
            "kernel_size": a.kernel_size,
            "num_repeat": a.num_repeat,
            "input_filters": a.input_filters,
            "output_filters": a.output_filters,
            "expand_ratio": a.expand_ratio,
            "se_ratio": a.se_ratio,
            "strides": a.strides,
            "conv_type": 1 if a.kind == FUSED else 0,
        }
        for a in variant(arch).stages
        if a.stage in kept
    ]


def config_plan(config: ModelConfig) -> Plan:
    """The expanded block list of a :class:`ModelConfig` of this family."""
    return expand(stages=config.stages, width=float(config.need("width")), depth=float(config.need("depth")),
                  top_filters=int(config.need("top_filters")), drop_connect=float(config.need("drop_connect")), arch=config.arch)
