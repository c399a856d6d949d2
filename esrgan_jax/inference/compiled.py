"""The compiled generator forward of a process: one jitted apply shared by every `Upscaler`, its cache bounded.

The forward is compiled per (module, parameter shapes, input shape and sharding). Flax modules compare by
their fields, so upscalers of equal architectures (a converted model and its fine-tunes) share one executable
per input shape instead of compiling their own. Whole-image inference compiles once per image size, and each
executable holds host memory for as long as the jit cache keeps it (README, "Upscaling images"); once more than
`capacity` have been compiled, this function's cache (and only it: a training step's stays) is cleared, so a
run over many image sizes keeps its memory bounded. A shape that comes back after a clear is compiled again,
or loaded from the persistent compilation cache when one is set up.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import flax.linen as nn
import jax

DEFAULT_CAPACITY = 8  # evaluate runs every method on one image before the next: one or two shapes at a time


class CompiledForward:
    """`module.apply({"params": params}, x)` under one `jax.jit`, holding at most `capacity` executables.

    Args:
      capacity: how many compiled shapes to keep before the cache is cleared (>= 1).
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        self.capacity = capacity
        self.compilations = 0  # traces = XLA compiles (or persistent-cache loads), since the process started
        self._keys: set[Hashable] = set()  # what the jit cache holds since it was last cleared
        self._jitted = jax.jit(self._apply, static_argnums=0)

    def _apply(self, module: nn.Module, params: Any, x: jax.Array) -> jax.Array:
        self.compilations += 1  # Python side effect: runs only while tracing
        return module.apply({"params": params}, x)

    def __len__(self) -> int:
        """How many compiled shapes the cache holds now."""
        return len(self._keys)

    def clear(self) -> None:
        """Drops every compiled shape (their memory is freed once no call is using them)."""
        self._jitted.clear_cache()
        self._keys.clear()

    def __call__(self, module: nn.Module, params: Any, x: jax.Array) -> jax.Array:
        """The module's output on `x`; `params` and `x` already placed on their devices."""
        leaves, treedef = jax.tree.flatten(params)
        avals = tuple((leaf.shape, leaf.dtype, leaf.sharding) for leaf in leaves)
        key = (module, treedef, avals, x.shape, x.dtype, x.sharding)
        if key not in self._keys:
            if len(self._keys) >= self.capacity:
                self.clear()
            self._keys.add(key)
        return self._jitted(module, params, x)


FORWARD = CompiledForward()


def release_compiled() -> None:
    """Frees the generator forwards compiled so far by every `Upscaler` of the process (their memory goes once no
    call is using them); a later call compiles its shape again, or loads it from the persistent compilation cache."""
    FORWARD.clear()
