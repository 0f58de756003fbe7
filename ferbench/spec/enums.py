"""The values of the spec's enumerated keys, as ``Literal`` types mypy checks.

They are the schema's ``enum`` lists (``schemas/spec.schema.json``);
tests/spec/test_spec_literals.py compares the two. ``ferbench.spec.types`` builds the
typed spec from them and re-exports them.
"""

from __future__ import annotations

from typing import Literal

#: Which way an objective improves.
Direction = Literal["minimize", "maximize"]

#: A spec split.
Split = Literal["train", "validation", "test"]

#: The values of the spec's enumerated keys (the schema's ``enum`` lists; tests/spec/test_spec_literals.py compares them).
DatasetKind = Literal["fer2013", "affectnet", "folder", "synthetic", "rafdb", "expw", "ckplus", "jaffe", "kdef"]
DatasetLayout = Literal["auto", "csv", "folders", "official"]
Color = Literal["grayscale", "rgb"]
OnBadSample = Literal["error", "skip"]
Flip = Literal["horizontal", "none"]
ClassWeight = Literal["none", "inverse_frequency", "effective_number"]
ScheduleName = Literal["constant", "cosine", "step", "plateau"]
Monitor = Literal["val_loss", "val_accuracy"]
OptimizerName = Literal["adam", "adamw", "sgd"]
SamplerName = Literal["tpe", "random", "grid", "cmaes", "qmc", "nsga2"]
PrunerName = Literal["none", "median", "successive_halving", "hyperband"]
ValidationMetric = Literal["val_loss", "val_accuracy", "val_f1_macro", "val_balanced_accuracy"]
CostMetric = Literal["params", "macs", "latency_ms"]
Tta = Literal["none", "flip", "ten_crop"]
Precision = Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"]
#: A search parameter's kind (from its form: ``float``/``int`` ranges or ``choices``).
ParamKind = Literal["float", "int", "categorical"]
#: ``evaluate.calibrate``: none, or a temperature fitted on the validation split.
Calibrate = Literal["none", "temperature"]

#: ``evaluate.robustness.corruptions``: the table of ``ferbench.data.corruptions``.
CorruptionName = Literal["gaussian_noise", "gaussian_blur", "jpeg", "brightness", "contrast", "rotation",
                         "occlusion_eyes", "occlusion_mouth", "occlusion_patch"]

#: The faces stage (``dataset.faces``).
FaceDetector = Literal["haar", "mtcnn", "boxes"]
FaceAlign = Literal["none", "eyes"]
FacesOnNone = Literal["skip", "whole"]
FacesOnMany = Literal["largest", "all"]
