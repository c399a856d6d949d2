"""What the PyTorch and ncnn sides share: their thread count, a wall-clock timer, and a whole image upscaled through
esrgan-jax's own tiling code (`esrgan_jax.inference.tiling.run_tiled`) with another engine's network inside, so
every engine sees exactly the windows `Upscaler` would."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common.cases import TILE_PAD, Case
from benchmarks.common.weights import inputs


def threads() -> int:
    """The cores this process may run on: the threads PyTorch and ncnn are given."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call of `fn`."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


class TiledUpscale:
    """The case's [s, s, 3] image through the tiling code with `net` ([B, h, w, 3] -> [B, 4h, 4w, 3], numpy)
    inside; `multiple`: what tiles start on (SwinIR: its window, as the JAX side's Upscaler)."""

    def __init__(self, net: Callable[[np.ndarray], np.ndarray], case: Case, seed: int, multiple: int = 1):
        self.net, self.image = net, inputs("upscale", case.size, 1, seed)["image"]
        self.tile, self.multiple, self.out = case.tile, multiple, None

    def _upscale(self) -> np.ndarray:
        from esrgan_jax.inference.tiling import run_tiled

        clip = lambda y: np.clip(y, 0.0, 1.0).astype(np.float32)  # noqa: E731  (Upscaler's float output)
        return run_tiled(
            self.net, self.image, scale=4, tile=self.tile, pad=TILE_PAD, batch=1, post=clip, multiple=self.multiple
        )

    def rep(self) -> float:
        seconds, self.out = timed(self._upscale)
        return seconds

    first_call = rep

    def output(self) -> np.ndarray:
        return self.out
