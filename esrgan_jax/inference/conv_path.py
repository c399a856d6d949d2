"""The convolution path a generator runs for inference: XLA's direct convolutions, or Winograd F(m, 3)
(`esrgan_jax.models.winograd`) where it was measured faster on this backend and network.

`Upscaler` (and so `upscale`, `evaluate` and training's validation, which run through it) asks `winograd_for`
once per model and converts the parameters once (`prepare`). `$ESRGAN_JAX_WINOGRAD` overrides the choice: `0`
for direct convolutions, `2`, `4` or `6` for F(m, 3) on any backend (generators without a Winograd path ignore it).
"""

from __future__ import annotations

import os
from typing import Any

import flax.linen as nn
import jax

from esrgan_jax.errors import UserError
from esrgan_jax.models import winograd

ENV_VAR = "ESRGAN_JAX_WINOGRAD"
CHOICES = (0, *winograd.POINTS)
# m of F(m, 3) per generator class on the CPU backend, where benchmarks/cpu/variants.py measured it faster than
# direct convolutions at every size it ran and cheap enough to compile (benchmarks/RESULTS.md, "Convolution
# paths"); absent: direct. RRDBNet is absent: F(4, 3) is faster, but its program needs minutes and over 14 GB to
# compile. On GPUs and TPUs the vendor libraries choose their own algorithms, so direct everywhere.
CPU_WINOGRAD: dict[str, int] = {}
# One trace per module and parameter tree.
_prepare_params = jax.jit(lambda module, params: module.winograd_params(params), static_argnums=0)


def winograd_for(module: nn.Module) -> int:
    """m of the Winograd path `module` should run for inference here (0: direct convolutions)."""
    if not hasattr(module, "winograd"):
        return 0
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        if env not in {str(m) for m in CHOICES}:
            raise UserError(f"${ENV_VAR}={env!r}: expected one of {', '.join(map(str, CHOICES))}")
        return int(env)
    return CPU_WINOGRAD.get(type(module).__name__, 0) if jax.default_backend() == "cpu" else 0


def for_inference(module: nn.Module) -> nn.Module:
    """`module` set up for its inference path (`winograd_for`); its parameters go through `prepare`."""
    m = winograd_for(module)
    return module.clone(winograd=m) if m != getattr(module, "winograd", 0) else module


def prepare(module: nn.Module, params: Any) -> Any:
    """The parameters in the form `module`'s path takes: its 3x3 kernels in Winograd form when it runs one."""
    return _prepare_params(module, params) if getattr(module, "winograd", 0) else params
