"""Knowledge distillation (Hinton et al. 2015) from a trained model's cached predictions.

The teacher (a ``.keras`` model, or a run folder's ``best/model.keras``) predicts every
training image once, un-augmented, per run; the trials of the run share those
predictions. Each batch carries its images' teacher probabilities beside the labels
(label vectors ``[y | q]``, B×2K, where ``q`` is the teacher's distribution at the
temperature), so mixup and CutMix mix them as they mix the labels. The loss on a batch:

    (1 - alpha) CE(y, p) + alpha T^2 KL(q || softmax(log p / T))

with ``p`` the student's probabilities (label smoothing applies to ``y``). On
validation (labels only) the loss is the cross-entropy alone, as without distillation.
What the teacher costs — its parameters, the seconds its predictions took and, for a
run folder, the training time of its trials — goes into every trial's hyperparameters
(``distill_teacher_params``, ``distill_teacher_predict_s``, ``distill_teacher_train_s``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench._lazy import require
from ferbench.errors import FerbenchError
from ferbench.run.train.recipes.base import Unit

if TYPE_CHECKING:
    import tensorflow as tf

    from ferbench.run.train.setup import TrialSetup


class TeacherError(FerbenchError):
    """The teacher of ``train.distill`` cannot be used."""


#: (model file, its mtime, the images' identity) -> (log-probabilities N×K, params, seconds): one prediction per run.
_CACHE: dict[tuple[str, int, int, tuple[int, ...]], tuple[np.ndarray, int, float]] = {}


def teacher_file(teacher: str) -> Path:
    """The teacher's model file: ``teacher`` itself, or a run folder's best model."""
    from ferbench.results.paths import RunPaths

    path = Path(teacher)
    if path.is_dir():
        path = RunPaths(path).best_model
    if not path.is_file():
        raise TeacherError(f"train.distill.teacher: no model at {path}; give a .keras file or a run folder with best/model.keras")
    return path


def teacher_train_s(teacher: str) -> float | None:
    """The training seconds of every trial of a run folder's teacher (``None`` for a bare model file)."""
    from ferbench.results.paths import RunPaths

    root = Path(teacher)
    if not root.is_dir():
        return None
    total = 0.0
    for d in RunPaths(root).trial_dirs():
        try:
            total += float(json.loads((d / "record.json").read_text())["timings"]["train_s"] or 0.0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return round(total, 3)


def teacher_log_probs(teacher: str, x: np.ndarray, num_classes: int, batch_size: int,
                      value_range: tuple[float, float] = (0.0, 255.0)) -> tuple[np.ndarray, int, float]:
    """The teacher's log-probabilities on ``x`` (cached per model file and images), its parameters and the seconds taken.

    The images go in as the trial's model takes them (``value_range``), as evaluation gives them.
    """
    from ferbench.data import make_eval_dataset

    path = teacher_file(teacher)
    key = (str(path.resolve()), path.stat().st_mtime_ns, id(x), tuple(x.shape))
    if key not in _CACHE:
        keras = require("keras")
        t0 = time.monotonic()
        model = keras.models.load_model(path, compile=False)
        ds = make_eval_dataset(x, np.zeros(len(x), np.int64), batch_size=batch_size, value_range=value_range)
        prob = np.asarray(model.predict(ds, verbose=0), np.float32)
        if prob.shape != (len(x), num_classes):
            raise TeacherError(f"train.distill.teacher: {path} predicts {prob.shape[1:]} classes per image; the spec has {num_classes}")
        _CACHE[key] = (np.log(np.clip(prob, 1e-7, 1.0)).astype(np.float32), int(model.count_params()), time.monotonic() - t0)
        del model
    return _CACHE[key]


def tempered(log_probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` per row."""
    z = log_probs / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


def distill_loss(num_classes: int, temperature: float, alpha: float, smoothing: float = 0.0) -> Callable[[Any, Any], Any]:
    """The loss of the module's formula on ``[y | q]`` targets (``y`` alone: the cross-entropy)."""
    keras = require("keras")
    ops, k, t = keras.ops, num_classes, float(temperature)

    def loss(y_true: Any, y_pred: Any) -> Any:
        p = ops.clip(ops.cast(y_pred, "float32"), 1e-7, 1.0)
        y = ops.cast(y_true, "float32")
        hard = y[:, :k] * (1.0 - smoothing) + smoothing / k
        ce = -ops.sum(hard * ops.log(p), axis=-1)
        if y_true.shape[-1] != 2 * k:
            return ce
        q = y[:, k:]
        log_student = ops.log_softmax(ops.log(p) / t, axis=-1)
        kl = ops.sum(q * (ops.log(ops.clip(q, 1e-12, 1.0)) - log_student), axis=-1)
        return (1.0 - alpha) * ce + alpha * t * t * kl

    return keras.saving.register_keras_serializable(package="ferbench", name="distill_loss")(loss)  # type: ignore[no-any-return]


def first_k_accuracy(num_classes: int) -> Callable[[Any, Any], Any]:
    """Accuracy against the label part of ``[y | q]`` targets (or plain label vectors)."""
    keras = require("keras")
    ops = keras.ops

    def hit(y_true: Any, y_pred: Any) -> Any:
        return ops.cast(ops.equal(ops.argmax(y_true[:, :num_classes], axis=-1), ops.argmax(y_pred, axis=-1)), "float32")

    return keras.saving.register_keras_serializable(package="ferbench", name="label_accuracy")(hit)  # type: ignore[no-any-return]


class Distill(Unit):
    block = "train.distill"
    vectors = True

    @property
    def temperature(self) -> float:
        return float(self.hp["distill_temperature"])

    @property
    def alpha(self) -> float:
        return float(self.hp["distill_alpha"])

    def teacher(self, setup: TrialSetup) -> tuple[np.ndarray, int, float]:
        """The teacher's log-probabilities on the training images (cached), its parameters and seconds."""
        spec = setup.spec
        return teacher_log_probs(str(self.hp["distill_teacher"]), setup.data.x["train"], spec.num_classes, spec.train.eval_batch_size,
                                 self.value_range)

    def cost(self, setup: TrialSetup) -> dict[str, Any]:
        """What the teacher costs, for the trial's record."""
        _, params, seconds = self.teacher(setup)
        return {"distill_teacher_params": params, "distill_teacher_predict_s": round(seconds, 3),
                "distill_teacher_train_s": teacher_train_s(str(self.hp["distill_teacher"]))}

    def targets(self, setup: TrialSetup, ds: tf.data.Dataset, targets: np.ndarray, weights: np.ndarray | None) -> tf.data.Dataset:
        """Batches of ``(inputs, sample ids[, ...])`` as ``(inputs, [y | q][, weight])``.

        ``targets`` (N×K) are the label vectors, ``weights`` (N) each sample's class weight.
        """
        tf = require("tensorflow")
        log_p = self.teacher(setup)[0]
        table = tf.constant(np.concatenate([targets.astype(np.float32), tempered(log_p, self.temperature)], axis=1))
        w_table = None if weights is None else tf.constant(np.asarray(weights, np.float32))

        def adapt(x: Any, ids: Any, *rest: Any) -> tuple[Any, ...]:
            ids = tf.cast(ids, tf.int32)
            t = tf.gather(table, ids)
            return (x, t) if w_table is None else (x, t, tf.gather(w_table, ids))

        return ds.map(adapt, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
