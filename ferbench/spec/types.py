"""Typed, frozen views of a validated spec.

Raw dictionaries stop at the loader: everything after validation works with these
dataclasses. Defaults live in the JSON Schema (``schemas/spec.schema.json``) and are
filled in before these objects are built, so the fields here carry no defaults of
their own except where a section is optional as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ferbench.spec.enums import (
    Calibrate,
    ClassWeight,
    Color,
    CorruptionName,
    DatasetKind,
    DatasetLayout,
    FaceAlign,
    FaceDetector,
    FacesOnMany,
    FacesOnNone,
    Flip,
    Monitor,
    OnBadSample,
    OptimizerName,
    Precision,
    ScheduleName,
    Split,
    Tta,
)
from ferbench.spec.recipe_types import DistillSpec, EmaSpec, ErasingSpec, MixSpec, SwaSpec
from ferbench.spec.recipes import searchable
from ferbench.spec.search_types import SearchSpec

#: The one class vocabulary. Every source maps its own labels onto these names.
CLASS_VOCABULARY: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "sad",
    "surprise",
    "neutral",
    "contempt",
)

#: FER2013 order (the Kaggle ``emotion`` column 0..6).
FER2013_CLASSES: tuple[str, ...] = CLASS_VOCABULARY[:7]

#: The spec's splits, in the order they are listed and reported.
SPLITS: tuple[Split, ...] = ("train", "validation", "test")

#: Names of a source's split that mean the same split (compared case-insensitively).
SPLIT_ALIASES: tuple[frozenset[str], ...] = (
    frozenset({"train", "training"}),
    frozenset({"val", "valid", "validation"}),
    frozenset({"test", "testing"}),
)

#: A name that means several source splits together where the source has them all:
#: FER2013's ``test`` is PublicTest + PrivateTest, as in the Kaggle folder copy and the thesis.
SPLIT_JOINS: Mapping[str, tuple[str, ...]] = {"test": ("publictest", "privatetest")}


def split_overlap_fix(first: str, second: str) -> str:
    """How to fix two spec splits that share samples (``first`` before ``second`` in :data:`SPLITS`).

    The spec checks and the loader both refuse an overlap and say the same.
    """
    if (first, second) == ("train", "test"):
        return "give test a split of its own"
    why = "the best trial would be chosen on the data it is scored on; " if second == "test" else ""
    return f"{why}carve validation from train instead, e.g. validation: {{from: train, fraction: 0.1}}"

#: Search-space parameter name -> the dotted spec key it sets.
SEARCHABLE: Mapping[str, str] = {
    "arch": "model.arch",
    "width": "model.width",
    "depth": "model.depth",
    "dropout": "model.dropout",
    "top_filters": "model.top_filters",
    "drop_connect": "model.drop_connect",
    "learning_rate": "train.learning_rate",
    "batch_size": "train.batch_size",
    "label_smoothing": "loss.label_smoothing",
    # The training recipe: optimizer, learning-rate schedule and recipes (ferbench.spec.recipes, the one table).
    **searchable(),
}


@dataclass(frozen=True)
class DerivedSplit:
    """A split carved out of another one (``{from: train, fraction: 0.1}``)."""

    source: Split  # the spec split it is carved from
    fraction: float
    stratified: bool = True

    def to_dict(self) -> dict[str, object]:
        """As the resolved spec writes it (``{from, fraction, stratified}``)."""
        return {"from": self.source, "fraction": self.fraction, "stratified": self.stratified}


#: A split is either a named split of the source ("Training", "PublicTest+PrivateTest",
#: "train", "val") or derived from another spec split.
SplitRef = str | DerivedSplit


@dataclass(frozen=True)
class Splits:
    train: SplitRef
    validation: SplitRef
    test: SplitRef


@dataclass(frozen=True)
class SyntheticSpec:
    """Size and balance of the built-in procedurally drawn faces."""

    train: int
    validation: int
    test: int
    #: "fer2013" (FER2013's training proportions), "balanced", or explicit weights.
    imbalance: str | tuple[float, ...]
    noise: float



@dataclass(frozen=True)
class FacesSpec:
    """The faces stage (``dataset.faces``): how face crops are made from photos."""

    detector: FaceDetector
    align: FaceAlign
    margin: float  # of the box's longer side, added on every side
    min_size: int  # pixels; smaller faces are not faces
    on_none: FacesOnNone
    on_many: FacesOnMany


def fold_count(folds: object) -> int | None:
    """k of ``dataset.folds`` as written (a number or ``{k, by}``), or ``None`` without folds."""
    if isinstance(folds, dict):
        folds = folds.get("k")
    return folds if isinstance(folds, int) and not isinstance(folds, bool) else None


def folds_by(folds: object) -> str:
    """``by`` of ``dataset.folds`` as written: ``sample`` unless ``{k, by: subject}``."""
    return str(folds.get("by", "sample")) if isinstance(folds, dict) else "sample"


@dataclass(frozen=True)
class DatasetSpec:
    kind: DatasetKind
    path: str | None  # file or dataset folder; None for synthetic
    layout: DatasetLayout
    labels: str | None  # FER+ votes file (fer2013new.csv) to relabel FER2013, or None
    image_size: int
    color: Color
    classes: tuple[str, ...]
    class_map: Mapping[str, str]  # source folder / label name -> vocabulary class
    splits: Splits
    on_bad_sample: OnBadSample
    cache: str | None  # cache folder; None = "<FERBENCH_CACHE or ~/.cache/ferbench>"
    synthetic: SyntheticSpec
    #: k-fold cross-validation over train + validation: the number of folds, and the
    #: fold (1-based) this dataset validates on; ``None`` without folds.
    folds: int | None = None
    fold: int | None = None
    #: The faces stage for datasets of photos; ``None``: the images are face crops already.
    faces: FacesSpec | None = None
    #: What the folds keep apart: ``sample`` (stratified k-fold of train + validation)
    #: or ``subject`` (no person in two folds; fold f is the test set).
    folds_by: Literal["sample", "subject"] = "sample"
    #: How FER+ votes label the training faces (validation and test: always majority).
    labels_mode: Literal["majority", "probability", "crossentropy", "multi_target"] = "majority"
    #: ``test``: test images with a near-duplicate in train or validation are left out.
    exclude_near_duplicates: Literal["none", "test"] = "none"
    #: ExpW: faces whose box confidence is below this are left out.
    min_confidence: float = 0.0
    #: CK+: also take each labelled sequence's first frame, as neutral.
    ckplus_neutral_first_frame: bool = False

    @property
    def channels(self) -> int:
        return 1 if self.color == "grayscale" else 3


@dataclass(frozen=True)
class AugmentSpec:
    enabled: bool
    flip: Flip
    rotation_deg: float
    translate: float
    zoom: float
    contrast: float
    brightness: float
    #: Batch recipes (``None``: off), applied in the train step after the rest.
    mixup: MixSpec | None = None
    cutmix: MixSpec | None = None
    random_erasing: ErasingSpec | None = None


@dataclass(frozen=True)
class ModelSpec:
    #: ``None`` where the architecture is searched (``search.space.arch``); the trial supplies it.
    arch: str | None
    #: ``None``: every stage of the family (a custom builder, a searched architecture).
    stages: tuple[int, ...] | None
    #: ``None`` where the value is searched, or the family does not have it; the trial supplies it.
    width: float | None
    depth: float | None
    dropout: float | None
    top_filters: int | None
    drop_connect: float | None
    #: ``none``, ``imagenet`` or a weights file.
    weights: str = "none"
    #: ``package.module:function`` of ``arch: custom``, and its further keyword arguments.
    builder: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    #: ``model.bn_momentum``; ``None``: the family's own, capped for the training set (``ferbench.model.batchnorm``).
    bn_momentum: float | None = None


@dataclass(frozen=True)
class LossSpec:
    class_weight: ClassWeight
    beta: float  # for effective_number
    label_smoothing: float | None


@dataclass(frozen=True)
class EarlyStopping:
    monitor: Monitor
    patience: int
    min_delta: float
    restore_best_weights: bool


@dataclass(frozen=True)
class ScheduleSpec:
    """The learning rate per epoch (``train.schedule``); ``None`` where searched or not applicable."""

    name: ScheduleName = "constant"
    warmup_epochs: int | None = 0
    alpha: float | None = None  # cosine
    step_epochs: int | None = None  # step
    factor: float | None = None  # step, plateau
    patience: int | None = None  # plateau
    monitor: Monitor | None = None  # plateau
    min_delta: float | None = None  # plateau
    cooldown: int | None = None  # plateau
    min_learning_rate: float | None = None  # plateau


@dataclass(frozen=True)
class Freeze:
    """Fine-tuning: the head alone for ``epochs``, then everything at ``learning_rate``."""

    epochs: int
    learning_rate: float


@dataclass(frozen=True)
class TrainSpec:
    optimizer: OptimizerName
    learning_rate: float | None  # None where searched
    batch_size: int | None
    max_epochs: int
    early_stopping: EarlyStopping | None
    eval_batch_size: int
    #: The recipe beyond Adam's: ``None`` where searched or where the optimizer has no such value.
    momentum: float | None = None  # sgd
    nesterov: bool | None = None  # sgd
    weight_decay: float | None = None  # adamw, sgd
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)
    freeze: Freeze | None = None
    ema: EmaSpec | None = None  # None: off
    swa: SwaSpec | None = None  # None: off
    distill: DistillSpec | None = None  # None: off


@dataclass(frozen=True)
class CrossSetSpec:
    """An extra test set (``evaluate.on``): a dataset and which of its splits is scored."""

    name: str
    dataset: DatasetSpec
    #: ``all``: the three splits together (a set scored whole).
    split: Split | Literal["all"] = "test"
    #: A list file of image names (one per line): only those images of the split are scored.
    images: str | None = None


@dataclass(frozen=True)
class RobustnessSpec:
    """``evaluate.robustness``: the test split scored again under each corruption and severity."""

    corruptions: tuple[CorruptionName, ...]
    severities: tuple[int, ...] = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class EvaluateSpec:
    """Test-time augmentation, extra test sets, calibration and robustness (``evaluate``)."""

    tta: Tta = "none"
    crop: float = 0.875  # ten_crop: crop side / image side
    on: tuple[CrossSetSpec, ...] = ()
    calibrate: Calibrate = "none"
    robustness: RobustnessSpec | None = None


@dataclass(frozen=True)
class MlflowTrackingSpec:
    """``tracking.mlflow``: the tracking URI, the experiment (``None``: the spec's name), whether to log the best model."""

    uri: str
    experiment: str | None = None
    log_model: bool = False


@dataclass(frozen=True)
class TrackingSpec:
    """``tracking``: where trials are tracked besides the records (not part of the run id)."""

    mlflow: MlflowTrackingSpec | None = None
    tensorboard: bool = False


@dataclass(frozen=True)
class ReportSpec:
    compare: tuple[str, ...]


@dataclass(frozen=True)
class RuntimeSpec:
    devices: Literal["auto", "cpu"] | tuple[int, ...]  # or GPU indices
    workers: int | str  # a count, or "auto" (one per device)
    precision: Precision
    jit_compile: Literal["auto"] | bool
    deterministic: bool
    storage: str | None  # Optuna storage URL; None = SQLite in the run folder
    steps_per_execution: int | str  # a count, or "auto"
    memory_mb: int | str = "auto"  # the data's memory budget in MiB, or "auto" (half the machine's memory)


@dataclass(frozen=True)
class Spec:
    """One fully resolved, validated spec (after extends, ${VAR}, --set and matrix)."""

    name: str
    seed: int
    seeds: tuple[int, ...]
    dataset: DatasetSpec
    augment: AugmentSpec
    model: ModelSpec
    loss: LossSpec
    train: TrainSpec
    search: SearchSpec
    matrix: Mapping[str, tuple[Any, ...]]
    report: ReportSpec
    runtime: RuntimeSpec
    results: str
    description: str = ""
    evaluate: EvaluateSpec = field(default_factory=EvaluateSpec)
    tracking: TrackingSpec = field(default_factory=TrackingSpec)
    #: What composition changed that a reader of the plan should know (e.g. --set fixing a searched value).
    notes: tuple[str, ...] = ()
    #: The plain-data form this object was built from (JSON-safe), for hashing and disk.
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.dataset.classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        s = self.dataset.image_size
        return (s, s, self.dataset.channels)
