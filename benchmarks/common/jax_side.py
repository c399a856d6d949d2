"""The esrgan-jax side of every workload: jitted forward, a trunk-only Adam train step, and `Upscaler`.

Each workload is built by `build(case, ...)` and then driven by the worker: `first_call()` (compile + run,
timed), `rep()` (one timed repetition) and `output()` (what is compared with PyTorch). Nothing here assumes a
CPU: the same code runs on a GPU backend (`pip install -e ".[cuda]"`); timings block on the result. Inputs are
placed as the library places them (`esrgan_jax.sharding.place`: split by images, else by rows, over one
CPU device per core), parameters replicated.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.common.cases import TILE_PAD, TRUNK_PREFIX, Case
from benchmarks.common.weights import inputs, load_flax_params, model_dir
from esrgan_jax.compilation import compile_and_release
from esrgan_jax.inference.conv_path import for_inference, prepare
from esrgan_jax.models import build_model
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.sharding import image_sharding, place

LEARNING_RATE = 1e-4


def trunk_only(params: dict[str, Any], prefix: str = "body") -> dict[str, str]:
    """Optimizer labels: "train" for the trunk (RRDBNet: the 23 blocks `body_*`, 99% of the parameters; SwinIR:
    `layers_*`), "freeze" otherwise."""
    return {name: ("train" if name.startswith(prefix + "_") else "freeze") for name in params}


def all_trainable(params: dict[str, Any]) -> dict[str, str]:
    """Optimizer labels that train every parameter (the GPU check's "full" train step)."""
    return {name: "train" for name in params}


def _timed(fn) -> tuple[float, Any]:
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - start, out


class Forward:
    """One jitted network call on a fixed [B, s, s, 3] batch, on the library's inference path
    (`esrgan_jax.inference.conv_path`: Winograd where it is the faster one)."""

    def __init__(self, module: RRDBNet, params: Any, case: Case, seed: int):
        module = for_inference(module)
        self.winograd = getattr(module, "winograd", 0)  # the inference path it runs, reported with the row
        self.params, self.x = place(prepare(module, params), inputs("forward", case.size, case.batch, seed)["lr"])
        self.fn = jax.jit(lambda p, x: module.apply({"params": p}, x))
        self.out = None

    def first_call(self) -> float:
        seconds, self.out = _timed(lambda: self.fn(self.params, self.x))
        return seconds

    def rep(self) -> float:
        seconds, self.out = _timed(lambda: self.fn(self.params, self.x))
        return seconds

    def output(self) -> np.ndarray:
        return np.asarray(self.out)


class TrainStep:
    """L1 loss, forward + backward + Adam on the trunk only (`labels`: which parameters train); params and
    optimizer state donated (updated in place).

    The outputs compared with PyTorch are the losses of every step taken: the same weights, data and Adam
    settings give the same sequence in both frameworks.
    """

    def __init__(
        self, module: RRDBNet, params: Any, case: Case, seed: int, labels: Callable[[dict], dict] = trunk_only
    ):
        tx = optax.multi_transform({"train": optax.adam(LEARNING_RATE), "freeze": optax.set_to_zero()}, labels)
        data = inputs("train", case.size, case.batch, seed)
        self.params, self.lr = place(params, data["lr"])
        self.hr = jax.device_put(data["hr"], image_sharding(self.lr.sharding.mesh, data["hr"].shape))
        # On the parameters' devices: tx.init puts Adam's step count on one device, and the step's output would then
        # live on a different sharding than its input, so the second call would compile the step a second time.
        self.opt_state = jax.device_put(tx.init(self.params), jax.tree.leaves(self.params)[0].sharding)

        def step(params, opt_state, lr, hr):
            def loss_fn(p):
                return jnp.mean(jnp.abs(module.apply({"params": p}, lr) - hr))

            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss

        # Donation lets XLA write the new params / Adam moments into the old buffers: no second copy of them.
        self.step = jax.jit(step, donate_argnums=(0, 1))
        self.losses: list[float] = []

    def _run(self) -> Any:
        self.params, self.opt_state, loss = self.step(self.params, self.opt_state, self.lr, self.hr)
        return loss

    def first_call(self) -> float:
        # As esrgan_jax.train does: compile ahead of the first step and release the compiler's freed heap.
        start = time.perf_counter()
        self.step = compile_and_release(self.step, self.params, self.opt_state, self.lr, self.hr)
        return time.perf_counter() - start + self.rep()

    def rep(self) -> float:
        seconds, loss = _timed(self._run)
        self.losses.append(float(loss))
        return seconds

    def output(self) -> np.ndarray:
        return np.asarray(self.losses, np.float64)


class Upscale:
    """A whole [s, s, 3] float image through an `esrgan_jax.inference.Upscaler` (tiled, or whole with tile 0)."""

    def __init__(self, upscaler: Any, case: Case, seed: int):
        self.image = inputs("upscale", case.size, 1, seed)["image"]
        self.upscaler = upscaler  # tile_batch: its default
        self.winograd = getattr(upscaler.module, "winograd", 0)
        self.out = None

    def first_call(self) -> float:
        return self.rep()

    def rep(self) -> float:
        seconds, self.out = _timed(lambda: self.upscaler.upscale(self.image))
        return seconds

    def output(self) -> np.ndarray:
        return np.asarray(self.out)


def build(
    case: Case,
    weights: str,
    seed: int,
    remat: bool,
    dtype: str = "float32",
    kind: str = "rrdbnet",
    builtin: bool = False,
) -> Any:
    """The workload for `case` on the shared weights.

    Args:
      remat: train with `RRDBNet(remat=True)` (recompute RRDB activations in the backward pass).
      dtype: compute dtype, "float32" or "bfloat16" (parameters stay float32; for GPUs).
      kind: "rrdbnet", "compact" or "swinir".
      builtin: the weights are the built-in model's (`--builtin`), so the "api" row is `Upscaler()`.
    """
    from esrgan_jax.inference import Upscaler

    if case.kind == "api":  # before anything else touches JAX, as in the README's Python example
        source = () if builtin else (model_dir(weights),)  # Upscaler(): the built-in model
        return Upscale(Upscaler(*source, tile=case.tile, tile_pad=TILE_PAD), case, seed)
    hparams, params = load_flax_params(weights, kind)
    if kind == "rrdbnet":
        module = RRDBNet(**hparams, remat=remat and case.kind == "train", dtype=jnp.dtype(dtype))
    else:
        module = build_model(kind, hparams, dtype=jnp.dtype(dtype))
    if case.kind == "upscale":
        return Upscale(Upscaler((module, params), tile=case.tile, tile_pad=TILE_PAD), case, seed)
    if case.kind == "train":
        return TrainStep(module, params, case, seed, functools.partial(trunk_only, prefix=TRUNK_PREFIX[kind]))
    return Forward(module, params, case, seed)


def device_peak_mb() -> float | None:
    """Peak device memory in MiB where the backend reports it (GPU); None on CPU (use the process RSS)."""
    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return None if peak is None else peak / 2**20


def describe() -> dict[str, str]:
    return {
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "devices": jax.device_count(),
        "jax": jax.__version__,
    }
