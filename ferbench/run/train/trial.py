"""One trial: build, train and evaluate a model for one set of hyperparameters.

Nothing here knows about Optuna: the study loop passes the trial's parameters,
its seed and a ``report(epoch, value) -> prune?`` function, and gets back a
:class:`~ferbench.results.records.TrialResult` (and the trained model, for ``best/``).
A trial that fails — NaN loss, an exception, out of memory — comes back as a
result with state ``failed`` and its error; it never raises, except on Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import os
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ferbench._lazy import require
from ferbench.errors import ControlFlow, FerbenchError
from ferbench.model.family import MODEL_HYPERPARAMETERS, ModelConfig
from ferbench.results.environment import environment
from ferbench.results.health import TrainCheck, assess
from ferbench.results.measures import ConstraintCheck, Cost, Latency
from ferbench.results.records import Timings, TrialRecord, TrialResult, TrialState, utc_now
from ferbench.run.constraints import bound_check
from ferbench.run.train.batchnorm import bn_values, small_input
from ferbench.run.train.health import train_check
from ferbench.run.train.inputs import eval_dataset, one_hot_classes, predict_proba, train_input
from ferbench.run.train.losses import any_target_hit as any_target_hit  # re-exported: the FER+ losses lived here
from ferbench.run.train.losses import multi_target_loss as multi_target_loss
from ferbench.run.train.scoring import Scored, score_model
from ferbench.run.train.setup import RunData, TrialSetup
from ferbench.run.train.space import effective
from ferbench.spec.types import Spec

if TYPE_CHECKING:
    import keras


def _error_text(exc: BaseException) -> str:
    tf = require("tensorflow")
    first = (str(exc).strip().splitlines() or [""])[0][:400]
    if isinstance(exc, (tf.errors.ResourceExhaustedError, MemoryError)):
        return f"out of memory: {first or type(exc).__name__}"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def model_config(spec: Spec, hp: Mapping[str, Any]) -> ModelConfig | None:
    """The trial's model: its architecture, kept stages and hyperparameters (``None`` for a custom builder)."""
    from ferbench.model.registry import CUSTOM, family

    arch = str(hp.get("arch") or spec.model.arch)
    if arch == CUSTOM:
        return None
    fam = family(arch)
    config = fam.config(spec.model.stages, bn_momentum=hp.get("bn_momentum"), **{k: hp.get(k) for k in fam.takes})
    config = dataclasses.replace(config, zero_init_last=bool(hp.get("zero_init_last")), inputs=hp.get("input_scaling"))
    return dataclasses.replace(config, small_input=small_input(spec, config))  # also where the cost model is asked first


def trial_cost(spec: Spec, hp: Mapping[str, Any]) -> Cost:
    """Parameters and MACs of the trial's model, from the TensorFlow-free cost model (unknown for a custom builder)."""
    from ferbench.model.registry import family_cost

    try:
        config = model_config(spec, hp)
        if config is None:
            return Cost()
        c = family_cost(config, spec.input_shape, spec.num_classes)
    except Exception:  # an unbuildable configuration fails later, with the builder's message
        return Cost()
    return Cost(int(c.params), int(c.macs))


def before_training(spec: Spec, params: Mapping[str, Any]) -> tuple[dict[str, Any], Cost, ConstraintCheck | None]:
    """``(hyperparameters, cost, check)`` of a trial's configuration, from the cost model alone (no TensorFlow).

    The check holds the bounds of ``search.constraints`` on parameters and MACs (latency
    is not measured yet); ``None`` when the spec sets no bound.
    """
    from ferbench.run.train.recipe import recipe_values

    hp = {**effective(spec, params), **recipe_values(spec, params)}
    cost = trial_cost(spec, hp)
    return hp, cost, bound_check(spec, cost)


def steps_per_execution(setup: TrialSetup, steps_per_epoch: int, *, gpu: bool) -> int:
    """Batches per compiled call: the spec's count, or for ``auto`` the device's default."""
    from ferbench.model.runtime import resolve_steps_per_execution

    return resolve_steps_per_execution(setup.spec.runtime.steps_per_execution, on_gpu=gpu, steps_per_epoch=steps_per_epoch)


def compile_model(setup: TrialSetup, model: keras.Model, hp: Mapping[str, Any], steps_per_execution: int | None = None,
                  learning_rate: float | None = None) -> None:
    """Compile with the trial's loss (label smoothing and the recipes that mix labels need one-hot labels;
    distillation has its own), its optimizer (Adam unless the recipe names another) and
    the run's XLA switch.

    ``learning_rate`` replaces the trial's (the second phase of ``train.freeze``).
    """
    from ferbench.run.train.losses import loss_and_accuracy
    from ferbench.run.train.recipe import make_optimizer
    from ferbench.run.train.recipes import units_for

    units = units_for(setup.spec, hp)
    loss, acc = loss_and_accuracy(setup, hp, units)
    optimizer = make_optimizer(hp if learning_rate is None else {**hp, "learning_rate": learning_rate})
    model.compile(optimizer=optimizer, loss=loss,
                  metrics=[acc], jit_compile=setup.jit,
                  steps_per_execution=setup.steps_per_execution if steps_per_execution is None else steps_per_execution)


def build_for(setup: TrialSetup, hp: Mapping[str, Any]) -> keras.Model:
    """The trial's model, under the run's precision policy: its family's builder, or the spec's custom builder.

    A custom builder gets ``model.params`` and the model hyperparameters the spec sets or searches.
    """
    from ferbench.model.registry import build_family
    from ferbench.model.runtime import apply_precision

    spec = setup.spec
    apply_precision(setup.precision)
    config = model_config(spec, hp)
    if config is None:
        from ferbench.model.custom import build_custom

        given = {k: hp[k] for k in MODEL_HYPERPARAMETERS if hp.get(k) is not None}
        return build_custom(str(spec.model.builder), spec.input_shape, spec.num_classes, {**spec.model.params, **given})
    return build_family(config, spec.input_shape, spec.num_classes)


def load_initial_weights(setup: TrialSetup, model: keras.Model, hp: Mapping[str, Any]) -> dict[str, Any] | None:
    """Load ``model.weights`` into the trial's model; what was loaded and skipped, for the record (``None``: none)."""
    from ferbench.model.weights import NONE, load_weights

    spec = setup.spec
    if spec.model.weights in ("", NONE):
        return None
    return load_weights(model, spec.model.weights, model_config(spec, hp), spec.input_shape).to_dict()


def train_head_only(spec: Spec, model: keras.Model, hp: Mapping[str, Any]) -> None:
    """Freeze every layer but the head stage's (``train.freeze``'s first phase)."""
    from ferbench.model.family import layer_stage
    from ferbench.model.registry import family

    head = family(str(hp.get("arch") or spec.model.arch)).head_stage
    for layer in model.layers:
        layer.trainable = layer_stage(layer.name, head) == head


class TooFewImages(FerbenchError):
    """The training split holds fewer images than one batch."""


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Full batches per epoch: training drops a last partial batch, so every step has one static shape.

    Batch norm needs real samples (zero-weight padding would still enter its
    statistics), XLA wants one shape, and on some CPUs oneDNN crashes the process on a
    residual network's last partial batch (docs/model.md).
    """
    if n < batch_size:
        raise TooFewImages(f"train.batch_size {batch_size} is larger than the training split ({n} images): no full batch to train on")
    return n // batch_size


class NanLoss(ControlFlow):
    """The loss went non-finite: the trial fails with this message (never leaves the trial)."""


@dataclass
class _Progress:
    """What a trial has produced so far; turned into its record at the end, whatever happened."""

    state: TrialState = "failed"
    error: str | None = None
    history: dict[str, list[float]] | None = None
    epoch_s: tuple[float, ...] = ()
    best_epoch: int | None = None
    objective: float | None = None
    scored: Scored | None = None
    train_s: float = 0.0
    eval_s: float = 0.0
    traceback: str | None = None
    check: TrainCheck | None = None


def _fit(model: keras.Model, train: Any, *, callbacks: list[Any], **kwargs: Any) -> None:
    """``model.fit`` with Ctrl-C and SIGTERM raised between steps only (see :mod:`ferbench.run.signals`).

    A search defers them over its whole trial already; the block here serves a trial
    trained on its own (``ferbench verify``).
    """
    from ferbench.run.signals import deferred_interrupts
    from ferbench.run.train.callbacks import SafeInterrupt

    with deferred_interrupts():
        # shuffle=False: the pipeline already shuffles, seeded (Keras would only warn).
        model.fit(train, callbacks=[SafeInterrupt(), *callbacks], verbose=0, shuffle=False, **kwargs)


@dataclass
class _Watch:
    """The callbacks whose state the trial reads once fitting is over."""

    epoch_log: Any
    guard: Any
    optuna: Any
    stopper: Any = None


def recipe_costs(setup: TrialSetup, hp: Mapping[str, Any]) -> dict[str, Any]:
    """What the recipes cost beyond the trial's own training (a teacher's), for the record's hyperparameters."""
    from ferbench.run.train.recipes import find, units_for
    from ferbench.run.train.recipes.distill import Distill

    distill = find(units_for(setup.spec, hp), Distill)
    return {} if distill is None else distill.cost(setup)


def _callbacks(setup: TrialSetup, hp: Mapping[str, Any], watch: _Watch, steps: int, number: int) -> list[Any]:
    """Every callback of the fit, in order: the recipes', F1 / balanced accuracy, NaN guard, learning rate, epoch log, early stopping, Optuna, progress."""
    from ferbench.run.train import callbacks as cb
    from ferbench.run.train.recipe import lr_callbacks
    from ferbench.run.train.recipes import callbacks as recipe_callbacks
    from ferbench.run.train.recipes import units_for

    spec, data = setup.spec, setup.data
    callbacks: list[Any] = recipe_callbacks(units_for(spec, hp))  # first: EMA shows its average to what follows
    scores = tuple(m for m in ("val_f1_macro", "val_balanced_accuracy") if m in spec.search.validation_metrics)
    if scores:
        val_plain = eval_dataset(data.x["validation"], data.y["validation"], spec.train.eval_batch_size)
        callbacks.append(cb.ValidationScores(val_plain, data.y["validation"], spec.num_classes, scores))
    lr_begin, lr_end = lr_callbacks(hp, spec.train.max_epochs)
    callbacks += [watch.guard, *lr_begin, watch.epoch_log, *lr_end]
    es = spec.train.early_stopping
    if es is not None:
        keras = require("keras")
        watch.stopper = keras.callbacks.EarlyStopping(monitor=es.monitor, patience=es.patience, min_delta=es.min_delta,
                                                      restore_best_weights=es.restore_best_weights,
                                                      mode="min" if es.monitor.endswith("loss") else "max")
        callbacks.append(watch.stopper)
    return [*callbacks, watch.optuna, cb.Progress(setup.reporter, steps, setup.tracker, number)]


def _fit_phases(setup: TrialSetup, model: keras.Model, hp: Mapping[str, Any], spe: int, train: Any, val: Any,
                callbacks: list[Any], watch: _Watch) -> bool:
    """The head alone first where ``train.freeze`` says so, then everything; whether the full fit ran."""
    spec, freeze = setup.spec, setup.spec.train.freeze
    first = 0
    if freeze is not None:  # the head alone, then everything at the fine-tuning rate
        head_callbacks = [c for c in callbacks if c is not watch.stopper]
        _fit(model, train, validation_data=val, epochs=freeze.epochs, callbacks=head_callbacks)
        first = len(watch.epoch_log.seconds)
        for layer in model.layers:
            layer.trainable = True
        compile_model(setup, model, hp, spe, learning_rate=freeze.learning_rate)
    fitted = watch.guard.epoch is None and watch.optuna.pruned_at is None and first < spec.train.max_epochs
    if fitted:
        _fit(model, train, validation_data=val, initial_epoch=first, epochs=spec.train.max_epochs, callbacks=callbacks)
    return bool(fitted)


def _judge(spec: Spec, p: _Progress, watch: _Watch, fitted: bool) -> None:
    """The best epoch, the objective and the state from what fitting left (:class:`NanLoss` when not finite)."""
    if watch.guard.epoch is not None:
        raise NanLoss(f"nan loss at epoch {watch.guard.epoch}")
    trained = len(watch.epoch_log.seconds)
    es = spec.train.early_stopping
    if watch.stopper is not None and es is not None and es.restore_best_weights and trained and fitted:
        p.best_epoch = int(watch.stopper.best_epoch) + 1
    else:
        p.best_epoch = trained or None
    values = watch.epoch_log.history.get(spec.search.metric, [])
    if watch.optuna.pruned_at is not None:
        p.state = "pruned"
        p.objective = watch.optuna.last_value  # what Optuna keeps for a pruned trial
        return
    i = (p.best_epoch or 0) - 1
    p.objective = float(values[i]) if 0 <= i < len(values) else None
    if p.objective is None or not math.isfinite(p.objective):
        raise NanLoss(f"no finite {spec.search.metric} at epoch {p.best_epoch}")
    p.state = "complete"


def run_trial(setup: TrialSetup, *, number: int, params: Mapping[str, Any], seed: int,
              report: Callable[[int, float], bool]) -> tuple[TrialResult, keras.Model | None]:
    """Train and evaluate one trial. Returns its result and model (None unless complete or pruned)."""
    from ferbench.model.runtime import on_gpu
    from ferbench.run.signals import raise_pending
    from ferbench.run.train import callbacks as cb
    from ferbench.run.train.recipe import recipe_values
    from ferbench.run.train.seeding import seed_trial

    spec, data = setup.spec, setup.data
    hp = {**effective(spec, params), **recipe_values(spec, params)}
    hp.update(bn_values(spec, hp, len(data.y["train"])))
    one_hot = one_hot_classes(setup, hp)
    started, p, model, latency, weights = utc_now(), _Progress(), None, None, None
    watch = _Watch(cb.EpochLog(), cb.NanGuard(), cb.OptunaReport(spec.search.metric, report))
    t0 = time.monotonic()
    try:
        seed_trial(seed, deterministic=spec.runtime.deterministic)
        model = build_for(setup, hp)
        weights = load_initial_weights(setup, model, hp)
        steps = steps_per_epoch(len(data.y["train"]), int(hp["batch_size"]))
        gpu = on_gpu()
        spe = steps_per_execution(setup, steps, gpu=gpu)
        if spec.train.freeze is not None:
            train_head_only(spec, model, hp)
        compile_model(setup, model, hp, spe)
        train = train_input(setup, model, hp, seed, gpu=gpu)
        hp.update(recipe_costs(setup, hp))
        val = eval_dataset(data.x["validation"], data.y["validation"], spec.train.eval_batch_size, one_hot=one_hot)
        fitted = _fit_phases(setup, model, hp, spe, train, val, _callbacks(setup, hp, watch, steps, number), watch)
        p.train_s = time.monotonic() - t0
        p.history, p.epoch_s = watch.epoch_log.history, tuple(watch.epoch_log.seconds)
        _judge(spec, p, watch, fitted)
        raise_pending()  # a stop asked for during the last validation: before scoring starts
        t1 = time.monotonic()
        p.check = train_check(model, data.x["train"], data.y["train"], hp, spec.seed)
        p.scored = score(model, data, spec)
        p.eval_s = time.monotonic() - t1
        if p.state == "complete":
            from ferbench.export.latency import keras_latency

            raise_pending()
            latency = keras_latency(model, spec.input_shape, large_batch=spec.train.eval_batch_size, gpu=gpu)
    except KeyboardInterrupt:
        raise
    except NanLoss as exc:
        p.state, p.error, p.scored = "failed", str(exc), None
        model = None
    except Exception as exc:  # the trial fails; the study goes on
        p.state, p.error, p.scored = "failed", _error_text(exc), None
        p.history, p.epoch_s = watch.epoch_log.history, tuple(watch.epoch_log.seconds)
        p.train_s = p.train_s or (time.monotonic() - t0)
        p.traceback = traceback.format_exc()
        model = None
    return _result(setup, number=number, params=params, hp=hp, seed=seed, started=started, p=p, model=model,
                   weights=weights, latency=latency), model


def _result(setup: TrialSetup, *, number: int, params: Mapping[str, Any], hp: dict[str, Any], seed: int, started: str,
            p: _Progress, model: keras.Model | None, weights: dict[str, Any] | None, latency: Latency | None) -> TrialResult:
    """The trial's result (record, predictions, traceback, learning rates) from what it produced, whatever happened."""
    spec, data = setup.spec, setup.data
    history = dict(p.history or {})
    lr = tuple(history.pop("lr", ()))
    cost = trial_cost(spec, hp)
    if cost.params is None and model is not None:  # a custom builder: its size is known now that it is built
        cost = Cost(int(model.count_params()), None)
    if p.state != "complete":
        latency = None  # measured for complete trials only
    record = TrialRecord(
        run_id=setup.run_id, trial=number, state=p.state, error=p.error, params=dict(params), hyperparameters=hp,
        cost=cost, epochs=len(p.epoch_s), best_epoch=p.best_epoch, objective=p.objective,
        history={k: tuple(v) for k, v in history.items()}, class_weight=data.class_weight_dict(),
        timings=Timings(p.train_s, p.eval_s, p.epoch_s), seed=seed, started=started, finished=utc_now(),
        environment=environment(),
        validation=None if p.scored is None else p.scored.validation,
        test=None if p.scored is None else p.scored.test,
        tta=None if p.scored is None else p.scored.tta,
        cross={} if p.scored is None else p.scored.cross,
        calibration=None if p.scored is None else p.scored.calibration,
        robustness=None if p.scored is None else p.scored.robustness,
        weights=weights,
        latency=latency,
        health=None if p.scored is None else assess(p.scored.validation.confusion, data.classes, p.check),
        constraints=bound_check(spec, cost, None if latency is None else latency.batch_1_ms) if p.state == "complete" else None,
    )
    return TrialResult(with_values(spec, record), None if p.scored is None else p.scored.predictions, p.traceback, lr)


def with_values(spec: Spec, record: TrialRecord) -> TrialRecord:
    """The record with each objective's value (``values``) where the run has several objectives."""
    if not spec.search.multi:
        return record
    from ferbench.results.pareto import record_values

    return dataclasses.replace(record, values=record_values(record, [g.metric for g in spec.search.goals]))


def infeasible_result(setup: TrialSetup, *, number: int, params: Mapping[str, Any], seed: int, hp: Mapping[str, Any],
                      cost: Cost, check: ConstraintCheck) -> TrialResult:
    """The record of a trial over a bound on parameters or MACs: judged by the cost model, never built nor trained."""
    now = utc_now()
    broken = "; ".join(f"{b.metric} {b.value:,.0f} > {b.max:,.0f}" for b in check.broken if b.value is not None)
    record = TrialRecord(
        run_id=setup.run_id, trial=number, state="infeasible", error=f"over search.constraints: {broken}", params=dict(params),
        hyperparameters=dict(hp), cost=cost, epochs=0, best_epoch=None, objective=None, history={},
        class_weight=setup.data.class_weight_dict(), timings=Timings(0.0, 0.0, ()), seed=seed, started=now, finished=now,
        environment=environment(), constraints=check,
    )
    return TrialResult(with_values(setup.spec, record))


def score(model: keras.Model, data: RunData, spec: Spec) -> Scored:
    """Metrics and predictions of ``model`` on validation and test, with test-time augmentation and on
    the extra test sets the spec's ``evaluate`` names (see :func:`ferbench.run.train.scoring.score_model`)."""
    batch_size = spec.train.eval_batch_size

    def predict(x: np.ndarray) -> np.ndarray:
        return predict_proba(model, x, np.zeros(len(x), np.int64), batch_size)

    return score_model(predict, data, spec.evaluate, seed=spec.seed, batch_size=batch_size)


def save_model(model: keras.Model, path: str | os.PathLike[str]) -> None:
    """Save a trained model as plain Keras: ``keras.models.load_model`` reads it without ferbench."""
    from ferbench.model.layers import to_keras

    to_keras(model).save(path)


def release(model: keras.Model | None = None) -> None:
    """Free a trial's graph and memory before the next one is built."""
    keras = require("keras")
    del model
    keras.backend.clear_session()
    gc.collect()
