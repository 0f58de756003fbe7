"""EfficientNetV2-S as data: the stage table, Keras's rounding rules, and the expanded block list.

Everything here is plain Python (no TensorFlow), so the cost model, the planner and
the reports can use it. The builder in :mod:`ferbench.model.build` walks the same
expanded block list, which is what keeps the analytic counts and the built model equal.

The table follows ``keras.src.applications.efficientnet_v2.DEFAULT_BLOCKS_ARGS
["efficientnetv2-s"]`` exactly. Note that thesis Table 4.3 prints stage 5 as
"MBConv4, stride 2"; the reference implementation (and the EfficientNetV2 paper) uses
expansion 6 and stride 1 for stage 5, and expansion 6 for stage 6. We follow Keras,
because parameter parity with it is what the thesis's numbers rest on.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ferbench.errors import UserInputError

ARCH = "efficientnetv2-s"

#: Filters are rounded to a multiple of this, never below ``MIN_DEPTH`` (Keras defaults).
DEPTH_DIVISOR = 8
MIN_DEPTH = 8
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-3  # Keras BatchNormalization's default; EfficientNetV2 does not change it
ACTIVATION = "swish"

#: Stem: conv3x3 stride 2 with ``round_filters(STEM_FILTERS)`` channels (stage 0).
STEM_FILTERS = 24
STEM_KERNEL = 3
STEM_STRIDES = 2

#: Keras's head conv1x1 width before width scaling (the thesis's numTopFilters replaces it).
DEFAULT_TOP_FILTERS = 1280

#: Stage index of the head in per-stage tables (thesis Table 4.3 numbers it 7).
HEAD_STAGE = 7

FUSED = "fused_mbconv"
MBCONV = "mbconv"


class ModelConfigError(UserInputError):
    """A model configuration that cannot be built (bad stage list, coefficients, rates)."""


@dataclass(frozen=True)
class StageArgs:
    """One blocks stage, as in Keras's ``blocks_args`` (unscaled)."""

    stage: int
    kind: str  # FUSED | MBCONV (Keras conv_type 1 | 0)
    kernel_size: int
    num_repeat: int
    input_filters: int
    output_filters: int
    expand_ratio: int
    se_ratio: float
    strides: int


#: Stages 1-6 of EfficientNetV2-S (stage 0 is the stem, described by the STEM_* constants).
STAGES: tuple[StageArgs, ...] = (
    StageArgs(1, FUSED, 3, 2, 24, 24, 1, 0.0, 1),
    StageArgs(2, FUSED, 3, 4, 24, 48, 4, 0.0, 2),
    StageArgs(3, FUSED, 3, 4, 48, 64, 4, 0.0, 2),
    StageArgs(4, MBCONV, 3, 6, 64, 128, 4, 0.25, 2),
    StageArgs(5, MBCONV, 3, 9, 128, 160, 6, 0.25, 1),
    StageArgs(6, MBCONV, 3, 15, 160, 256, 6, 0.25, 2),
)

ALL_STAGES: tuple[int, ...] = tuple(range(len(STAGES) + 1))


def round_filters(filters: float, width_coefficient: float, min_depth: int = MIN_DEPTH, depth_divisor: int = DEPTH_DIVISOR) -> int:
    """Scale ``filters`` by the width coefficient and round to a multiple of ``depth_divisor``.

    The same expression as Keras (round half up on the scaled value, floor at
    ``min_depth``), evaluated in the same order so floating-point results match bit for bit.
    """
    filters *= width_coefficient
    minimum_depth = min_depth or depth_divisor
    new_filters = max(minimum_depth, int(filters + depth_divisor / 2) // depth_divisor * depth_divisor)
    return int(new_filters)


def round_repeats(repeats: int, depth_coefficient: float) -> int:
    """Scale a stage's block count by the depth coefficient, rounding up (Keras's rule)."""
    return int(math.ceil(depth_coefficient * repeats))


def check_stages(stages: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """Return ``stages`` as a tuple if it is a prefix ``0..k`` of the stage table, else raise."""
    kept = tuple(int(s) for s in stages)
    if not kept or kept != tuple(range(len(kept))) or len(kept) > len(ALL_STAGES):
        raise ModelConfigError(
            f"model.stages must be a prefix of {list(ALL_STAGES)} starting at 0 (stages can only be "
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
class BlockPlan:
    """One block after width/depth scaling: what the builder creates and the cost model counts."""

    stage: int
    block: int  # 1-based within the stage
    kind: str
    kernel_size: int
    strides: int
    input_filters: int
    output_filters: int
    expand_ratio: int
    se_ratio: float
    #: Stochastic-depth dropout rate on the residual branch (0 = no dropout layer).
    drop_rate: float

    @property
    def prefix(self) -> str:
        """Layer-name prefix, e.g. ``stage4_block2_``."""
        return f"stage{self.stage}_block{self.block}_"

    @property
    def residual(self) -> bool:
        return self.strides == 1 and self.input_filters == self.output_filters

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


def expand(*, stages: tuple[int, ...], width: float, depth: float, top_filters: int, drop_connect: float = 0.2) -> Plan:
    """Scale the stage table by width and depth and list every block, in Keras's order.

    Stochastic depth follows Keras literally: block ``b`` (0-based over the whole
    network) gets dropout rate ``drop_connect * b / blocks`` on its residual branch, where
    ``blocks`` is the *unscaled* number of blocks of the kept stages. (Keras names the
    argument ``survival_probability`` but uses it as a drop rate; with depth > 1 the last
    rates exceed ``drop_connect``.)
    """
    kept = check_stages(stages)
    _check_coefficients(width, depth, top_filters)
    stem = round_filters(STEM_FILTERS, width)
    table = [a for a in STAGES if a.stage in kept]
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


def keras_blocks_args(stages: tuple[int, ...]) -> list[dict[str, Any]]:
    """The kept blocks stages in Keras's ``blocks_args`` format (for parity checks)."""
    kept = check_stages(stages)
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
        for a in STAGES
        if a.stage in kept
    ]


_STAGE_NAME = re.compile(r"^stage(\d+)_")


def layer_stage(layer_name: str) -> int | None:
    """The stage a built layer belongs to (0-6), ``HEAD_STAGE`` for the head, None for the input."""
    m = _STAGE_NAME.match(layer_name)
    if m:
        return int(m.group(1))
    if layer_name.startswith("head_") or layer_name == "predictions":
        return HEAD_STAGE
    return None
