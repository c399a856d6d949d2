"""One JAX CPU device per core, so that sharded work uses every core of a CPU-only machine.

XLA:CPU (jaxlib 0.10.2) runs most of RRDBNet's convolutions on a single thread (benchmarks/RESULTS.md), so
one CPU device computes at about half the peak of a 2-core machine. JAX can present the host as several CPU
devices (`jax_num_cpu_devices`), each running its share at the same time. esrgan-jax then shards the training
batch (`esrgan_jax.train`) and the rows of each inference tile (`esrgan_jax.inference`) over them; XLA's SPMD
partitioner adds the halo exchange the 3x3 convolutions need, so results equal the one-device ones up to float
rounding. On GPUs and TPUs nothing changes: the CPU backend is not used there.

The device count can only be set before JAX starts its backends, so each command-line entry point calls
`use_cpu_cores()` first; library users call it themselves (or set `jax_num_cpu_devices`). Override the count
with `ESRGAN_JAX_CPU_DEVICES=N` (`1` switches it off); a user's own `jax_num_cpu_devices` or
`--xla_force_host_platform_device_count` is left alone.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from esrgan_jax.errors import UserError

ENV_VAR = "ESRGAN_JAX_CPU_DEVICES"
AXIS = "data"


def cpu_core_count() -> int:
    """Cores this process may run on (its CPU affinity), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


def use_cpu_cores(count: int | None = None) -> int | None:
    """Asks JAX for `count` CPU devices (default: `$ESRGAN_JAX_CPU_DEVICES`, else one per core).

    Returns the count set, or None when it was left alone: the user configured it, or JAX's backends are
    already running (e.g. in a test process), where the setting can no longer change.
    """
    if jax.config.jax_num_cpu_devices > 0 or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return None
    if count is None:
        env = os.environ.get(ENV_VAR, "").strip()
        if env and not (env.isdigit() and int(env) >= 1):
            raise UserError(f"${ENV_VAR}={env!r}: expected a whole number >= 1")
        count = int(env) if env else cpu_core_count()
    try:
        jax.config.update("jax_num_cpu_devices", int(count))
    except RuntimeError:  # backends already initialised: keep what is there
        return None
    return int(count)


def image_sharding(mesh: Mesh, shape: tuple[int, ...]) -> NamedSharding:
    """How to split an [N, H, W, C] input over `mesh`: by images if N divides, else by rows, else replicated.

    Splitting rows lets a single image (an upscale tile, a whole-image forward) use every core. Rows need a
    multiple of the device count; a replicated input runs the same work on every device (no faster, correct).
    """
    n = mesh.devices.size
    if shape[0] % n == 0:
        return NamedSharding(mesh, P(AXIS))
    if shape[1] % n == 0 and shape[1] // n >= 8:  # thinner slabs are mostly halo
        return NamedSharding(mesh, P(None, AXIS))
    return NamedSharding(mesh, P())


def local_mesh() -> Mesh:
    """A 1-D mesh over this process's devices with the axis `data`."""
    return Mesh(np.asarray(jax.local_devices()), (AXIS,))
