"""Devices and data parallelism: CPU cores as JAX devices, the data mesh, placing parameters and batches, and
multi-host start-up (`jax.distributed`).

XLA:CPU runs most of RRDBNet's convolutions on a single thread (benchmarks/RESULTS.md), so one CPU device
computes at about half the peak of a 2-core machine. JAX can present the host as several CPU devices
(`jax_num_cpu_devices`), each running its share at the same time. esrgan-jax then shards the training batch and
the rows of each inference tile over them; XLA's SPMD partitioner adds the halo exchange the 3x3 convolutions
need, so results equal the one-device ones up to float rounding. An input is split over as many devices as
divide its images or rows (`split_count`), never copied to all of them, so a many-core machine does not run one
tile once per core. On GPUs and TPUs the CPU backend is not used, and the same placement spreads images or rows
over the accelerators.

The device count can only be set before JAX starts its backends, so each command-line entry point calls
`use_cpu_cores()` first; library users call it themselves (or set `jax_num_cpu_devices`). Override the count
with `ESRGAN_JAX_CPU_DEVICES=N` (`1` switches it off); a user's own `jax_num_cpu_devices` or
`--xla_force_host_platform_device_count` is left alone.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from esrgan_jax.errors import UserError

ENV_VAR = "ESRGAN_JAX_CPU_DEVICES"
AXIS = "data"
CLUSTER_ENV = ("JAX_COORDINATOR_ADDRESS", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE")


def cpu_core_count() -> int:
    """Cores this process may run on (its CPU affinity), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


def _wanted_count() -> int:
    """`$ESRGAN_JAX_CPU_DEVICES`, else the cores this process may run on."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env and not (env.isdigit() and int(env) >= 1):
        raise UserError(f"${ENV_VAR}={env!r}: expected a whole number >= 1")
    return int(env) if env else cpu_core_count()


def use_cpu_cores(count: int | None = None) -> int | None:
    """Asks JAX for `count` CPU devices (default: `$ESRGAN_JAX_CPU_DEVICES`, else one per core).

    Returns the count set, or None when it was left alone: the user configured it, or JAX's backends are
    already running (e.g. in a test process), where the setting can no longer change.
    """
    if jax.config.jax_num_cpu_devices > 0 or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return None
    count = _wanted_count() if count is None else count
    try:
        jax.config.update("jax_num_cpu_devices", int(count))
    except RuntimeError:  # backends already initialised: keep what is there
        return None
    return int(count)


def ensure_cpu_cores() -> None:
    """`use_cpu_cores()` for library entry points (`Upscaler`): one CPU device per core when JAX has not started.

    When JAX already runs on fewer CPU devices than wanted (something used JAX first), the count can no longer
    change: says so once, with the call that avoids it.
    """
    if use_cpu_cores() is not None or jax.config.jax_num_cpu_devices > 0:
        return
    wanted = _wanted_count()
    if jax.default_backend() == "cpu" and jax.local_device_count() < wanted:
        warnings.warn(
            f"esrgan_jax: JAX already runs on {jax.local_device_count()} CPU device(s), so this uses that many of "
            f"{wanted} cores; call esrgan_jax.use_cpu_cores() before anything else uses JAX "
            "(or set jax_num_cpu_devices)",
            stacklevel=3,
        )


def _split_axis(shape: tuple[int, ...], k: int) -> int | None:
    """The axis of an [N, H, W, C] input to split over `k` devices: 0 (images) if k divides N, else 1 (rows) if
    k divides H into slabs of at least 8 rows (thinner ones are mostly halo), else None."""
    if shape[0] % k == 0:
        return 0
    if shape[1] % k == 0 and shape[1] // k >= 8:
        return 1
    return None


def split_count(shape: tuple[int, ...]) -> int:
    """How many local devices an [N, H, W, C] input is worth splitting over: the most that divide its images,
    or its rows (`_split_axis`). 1 when nothing divides.

    Using fewer devices than there are, rather than replicating the input, keeps a many-core machine from
    running the same tile on every core (and holding its activations once per core).
    """
    for k in range(jax.local_device_count(), 1, -1):
        if _split_axis(shape, k) is not None:
            return k
    return 1


def mesh_for(shape: tuple[int, ...]) -> Mesh:
    """A 1-D `data` mesh over the first `split_count(shape)` local devices."""
    return Mesh(np.asarray(jax.local_devices()[: split_count(shape)]), (AXIS,))


def image_sharding(mesh: Mesh, shape: tuple[int, ...]) -> NamedSharding:
    """How to split an [N, H, W, C] input over `mesh`: by images if N divides, else by rows, else replicated.

    Splitting rows lets a single image (an upscale tile, a whole-image forward) use every core. With a mesh from
    `mesh_for(shape)` the input is always split (or the mesh has one device).
    """
    axis = _split_axis(shape, mesh.devices.size)
    return NamedSharding(mesh, P() if axis is None else P(*[None] * axis, AXIS))


def place(params: Any, x: np.ndarray, cache: dict[int, Any] | None = None) -> tuple[Any, jax.Array]:
    """(params replicated on the devices that split `x`, `x` [N, H, W, C] split over them), for one jitted call.

    `cache` (device count -> placed params) spares re-copying the same params for every call, e.g. every tile.
    """
    mesh = mesh_for(x.shape)
    k = mesh.devices.size
    placed = None if cache is None else cache.get(k)
    if placed is None:
        placed = jax.device_put(params, NamedSharding(mesh, P()))
        if cache is not None:
            cache[k] = placed
    return placed, jax.device_put(x, image_sharding(mesh, x.shape))


def make_mesh(devices: list | None = None) -> Mesh:
    """A 1-D mesh over `devices` (default: all devices of all processes) with the batch axis `data`."""
    return Mesh(np.asarray(devices if devices is not None else jax.devices()), (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding of the state: a full copy on every device."""
    return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """The sharding of a batch: split along its first (batch) dimension over the `data` axis."""
    return NamedSharding(mesh, P(AXIS))


def whole_images(mesh: Mesh, batch: int) -> NamedSharding:
    """The sharding of a `batch`-image input that must not be split by rows: by images when the device count
    divides the batch, else a full copy on every device."""
    return batch_sharding(mesh) if batch % mesh.devices.size == 0 else replicated(mesh)


def put_replicated(tree: Any, mesh: Mesh) -> Any:
    """Places a host pytree (numpy or jax arrays) on every device of `mesh`."""
    return jax.device_put(tree, replicated(mesh))


def host_copy(tree: Any) -> Any:
    """A pytree of (replicated) jax arrays as numpy, from this process's own copy: works when the arrays span
    several processes, where `jax.device_get` cannot gather them."""
    return jax.tree.map(lambda a: np.asarray(a.addressable_data(0)) if isinstance(a, jax.Array) else a, tree)


def shapes(tree: Any, sharding: jax.sharding.Sharding) -> Any:
    """A pytree of arrays (or of shapes) as `jax.ShapeDtypeStruct`s placed by `sharding`: what compiling ahead
    and restoring into a target need, with nothing allocated."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)


def _batch_layout(local_shape: tuple[int, ...], mesh: Mesh) -> tuple[tuple[int, ...], NamedSharding]:
    """The global shape and sharding of one array of a batch of which this process holds `local_shape`.

    One process: split by images when the device count divides the batch, else by rows (a batch of 1 still
    uses every core of a CPU). Several processes: split by images only, so each process contributes exactly
    its own images.
    """
    if jax.process_count() == 1:
        return tuple(local_shape), image_sharding(mesh, local_shape)
    return (local_shape[0] * jax.process_count(), *local_shape[1:]), batch_sharding(mesh)


def put_batch(batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """Places a batch on `mesh`: this process's slice of the global batch, as one global array per key
    (`_batch_layout`)."""
    one, out = jax.process_count() == 1, {}
    for k, v in batch.items():
        v = np.asarray(v)
        where = _batch_layout(v.shape, mesh)[1]
        out[k] = jax.device_put(v, where) if one else jax.make_array_from_process_local_data(where, v)
    return out


def batch_shapes(batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.ShapeDtypeStruct]:
    """What `put_batch(batch, mesh)` would return, as shapes: for compiling ahead of the first batch."""
    out = {}
    for k, v in batch.items():
        shape, where = _batch_layout(np.shape(v), mesh)
        out[k] = jax.ShapeDtypeStruct(shape, np.asarray(v).dtype, sharding=where)
    return out


def maybe_initialize_distributed() -> None:
    """Calls `jax.distributed.initialize()` when a multi-process cluster launcher's environment is present.

    SLURM and Open MPI are detected by JAX itself. Any other launcher sets JAX_COORDINATOR_ADDRESS plus
    JAX_NUM_PROCESSES and JAX_PROCESS_ID, which JAX does not read on its own, so they are passed explicitly.
    """
    env = os.environ
    multi = "JAX_COORDINATOR_ADDRESS" in env or any(int(env.get(k, "1") or 1) > 1 for k in CLUSTER_ENV[1:])
    if not multi or jax.distributed.is_initialized():
        return
    given = {k: env[k] for k in ("JAX_NUM_PROCESSES", "JAX_PROCESS_ID") if k in env}
    if not given:
        jax.distributed.initialize()
        return
    if len(given) < 2 or not all(v.isdigit() for v in given.values()):
        shown = ", ".join(f"{k}={v!r}" for k, v in given.items())
        raise UserError(f"{shown}: set both JAX_NUM_PROCESSES and JAX_PROCESS_ID to whole numbers (or neither)")
    jax.distributed.initialize(num_processes=int(given["JAX_NUM_PROCESSES"]), process_id=int(given["JAX_PROCESS_ID"]))
