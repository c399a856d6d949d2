"""SIGTERM and Ctrl-C during training: finish the current step, save a checkpoint, exit cleanly.

While the training loop runs, `StopRequests` replaces the SIGTERM and SIGINT handlers with one that only records
the signal; the loop checks `requested` after each step, saves the state at that step and raises
`InterruptedTrainingError` (exit code 128 + the signal number; one line: where the checkpoint is, how to resume).
A second signal while the first is being handled stops at once, as the default handlers would (Ctrl-C twice).
Handlers can only be set from the main thread; elsewhere the loop runs with the process's own handlers.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from esrgan_jax.errors import UserError

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class InterruptedTrainingError(UserError):
    """A stop asked for by a signal; the state at `step` was saved. Exit code 128 + the signal number."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


class StopRequests:
    """Context manager: records SIGTERM/SIGINT instead of dying; `requested` is the first signal's name or None."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    @property
    def requested(self) -> str | None:
        return signal.Signals(self.signum).name if self.signum is not None else None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # the second one: stop now, without the checkpoint
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + signum)
        self.signum = signum

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)
        self._old = {}
