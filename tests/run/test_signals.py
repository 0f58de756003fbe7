"""Ctrl-C and SIGTERM: at once outside training, at the next step boundary inside it."""

from __future__ import annotations

import os
import signal
import traceback
from typing import Any

import numpy as np
import pytest

from ferbench.run.signals import deferred_interrupts, hold_to_the_end, raise_pending, signals_as_interrupt


def _send(signum: int) -> None:
    os.kill(os.getpid(), signum)  # the Python handler runs as os.kill returns


def test_outside_training_a_signal_interrupts_at_once() -> None:
    with signals_as_interrupt(), pytest.raises(KeyboardInterrupt, match="signal 15"):
        _send(signal.SIGTERM)
        raise AssertionError("not interrupted")


def test_inside_training_the_signal_waits_for_a_safe_point() -> None:
    reached = False
    with signals_as_interrupt(), pytest.raises(KeyboardInterrupt, match="signal 15"):
        with deferred_interrupts():
            _send(signal.SIGTERM)
            reached = True  # not interrupted here
            raise_pending()
            raise AssertionError("the safe point did not raise")
    assert reached
    raise_pending()  # nothing left pending


def test_leaving_the_block_is_a_safe_point_and_wins_over_a_failure() -> None:
    with signals_as_interrupt(), pytest.raises(KeyboardInterrupt) as info:
        with deferred_interrupts():
            _send(signal.SIGTERM)
            raise ValueError("the trial failed while being stopped")
    assert isinstance(info.value.__context__, ValueError)  # the failure is kept as context, the stop wins
    with signals_as_interrupt(), pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            _send(signal.SIGTERM)


def test_a_second_ctrl_c_stops_at_once_and_the_handler_is_restored() -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            _send(signal.SIGINT)
            steps.append("first noted")
            _send(signal.SIGINT)
            steps.append("second ignored")
    assert steps == ["first noted"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    raise_pending()  # the immediate raise cleared the pending one


def test_while_a_result_is_written_and_told_even_a_second_ctrl_c_waits() -> None:
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            _send(signal.SIGINT)
            hold_to_the_end()  # the record is being written and told to the study
            _send(signal.SIGINT)
            steps.append("written and told")
    assert steps == ["written and told"]
    with pytest.raises(KeyboardInterrupt):  # the hold ends with its block: a second Ctrl-C stops at once again
        with deferred_interrupts():
            _send(signal.SIGINT)
            _send(signal.SIGINT)
            steps.append("not reached")
    assert steps == ["written and told"]
    raise_pending()


def test_once_ignores_later_signals_while_one_is_pending() -> None:
    with signals_as_interrupt((signal.SIGTERM,), once=True), pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            _send(signal.SIGTERM)
            _send(signal.SIGTERM)  # ignored: the clean-up of the first must not be broken
            raise_pending()


def test_keras_training_stops_between_two_steps() -> None:
    pytest.importorskip("tensorflow")
    import keras

    from ferbench.run.train.trial import _fit

    seen: list[int] = []

    class SignalAtBatch(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            seen.append(batch)
            if batch == 1:
                _send(signal.SIGTERM)

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", steps_per_execution=1)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = np.arange(64) % 3
    with signals_as_interrupt(), pytest.raises(KeyboardInterrupt) as info:
        _fit(model, x, y=y, batch_size=8, epochs=3, callbacks=[SignalAtBatch()])
    # Batch 1 still ran its step; the stop came from the safe point after it, not from inside Keras.
    assert seen == [0, 1]
    raised_in = traceback.extract_tb(info.value.__traceback__)[-1]
    assert raised_in.name == "raise_pending"
    assert any(f.name == "on_train_batch_end" for f in traceback.extract_tb(info.value.__traceback__))


def test_scoring_stops_between_two_batches() -> None:
    pytest.importorskip("tensorflow")
    import keras

    from ferbench.run.train.inputs import predict_proba

    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    x = np.zeros((64, 4, 4, 1), dtype=np.uint8)
    y = np.zeros(64, dtype=np.int64)
    assert predict_proba(model, x, y, 8).shape == (64, 3)  # nothing pending: every batch
    with signals_as_interrupt(), pytest.raises(KeyboardInterrupt) as info:
        with deferred_interrupts():
            _send(signal.SIGTERM)
            predict_proba(model, x, y, 8)
            raise AssertionError("scored every batch")
    assert any(f.name == "on_predict_batch_end" for f in traceback.extract_tb(info.value.__traceback__))


def test_a_signal_landing_while_the_handlers_are_put_back_meets_the_callers_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a SIGTERM between putting back SIGINT's handler and SIGTERM's ran the block's handler, which
    (with ``once``) set both to SIG_IGN and raised out of the clean-up: SIGINT stayed ignored in that process."""
    seen: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))  # the caller's own handler
    callers = signal.getsignal(signal.SIGTERM)
    real = signal.signal

    def put_back(signum: int, handler: Any) -> Any:
        old = real(signum, handler)
        if signum == signal.SIGINT and handler is signal.default_int_handler:
            os.kill(os.getpid(), signal.SIGTERM)  # lands between SIGINT's handler put back and SIGTERM's
        return old

    try:
        with signals_as_interrupt((signal.SIGINT, signal.SIGTERM), once=True):
            monkeypatch.setattr(signal, "signal", put_back)
    except KeyboardInterrupt:
        pytest.fail("the signal ran the block's handler after the block had ended")
    finally:
        monkeypatch.undo()
    try:
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is callers and seen == [signal.SIGTERM]  # delivered to it, not lost
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
