"""SIGTERM / Ctrl-C inside `StopRequests` are recorded, not fatal; a second one stops at once; handlers come back."""

from __future__ import annotations

import os
import signal

import pytest

from esrgan_jax.training.interrupt import InterruptedTrainingError, StopRequests


@pytest.mark.parametrize("signum, name", [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")])
def test_a_signal_is_recorded_and_the_handlers_restored(signum, name):
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    with StopRequests() as stop:
        assert stop.requested is None
        os.kill(os.getpid(), signum)
        assert (stop.requested, stop.signum) == (name, signum)
        second = KeyboardInterrupt if signum == signal.SIGINT else SystemExit
        with pytest.raises(second):
            os.kill(os.getpid(), signum)
    assert {s: signal.getsignal(s) for s in before} == before


def test_exit_code_is_128_plus_the_signal():
    assert InterruptedTrainingError("x", signal.SIGTERM).exit_code == 143
    assert InterruptedTrainingError("x", signal.SIGINT).exit_code == 130
