"""`python -m benchmarks.conv_grads [--json OUT.json]`: XLA's speed on one 3x3 conv, its input and weight gradient.

Why: the train-step rows of `benchmarks.run` are slower relative to PyTorch than the forward rows. This isolates
the three convolutions of a training step (forward, d/dinput, d/dweight) for RRDBNet's layer shapes on the
current JAX device, so the bottleneck can be read off per kind (benchmarks/RESULTS.md, point 10). Prints a table
(median of 5 after a warm-up, GFLOP/s, process CPU time / wall time = cores kept busy) and optionally writes JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

# (batch, side, in channels, out channels): the dense block's narrowest and widest convs, at the train rows' shapes
SHAPES = ((1, 64, 64, 32), (1, 64, 192, 64), (16, 32, 64, 32), (16, 32, 192, 32))


def conv(x: jax.Array, w: jax.Array) -> jax.Array:
    """3x3 'SAME' conv, NHWC x HWIO, as flax.linen.Conv lowers it."""
    return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _time(fn: Callable[[], jax.Array], reps: int = 5) -> tuple[float, float]:
    """(median wall seconds, CPU seconds / wall seconds of that run) over `reps` calls after one warm-up."""
    jax.block_until_ready(fn())
    runs = []
    for _ in range(reps):
        wall, cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(fn())
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    wall = statistics.median(r[0] for r in runs)
    return wall, next(c for w, c in runs if w == wall) / wall


def measure(batch: int, side: int, cin: int, cout: int) -> list[dict]:
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.random((batch, side, side, cin), np.float32))
    w = jnp.asarray(rng.random((3, 3, cin, cout), np.float32) * 0.01)
    dy = jnp.asarray(rng.random((batch, side, side, cout), np.float32))
    kinds = {
        "forward": jax.jit(conv),
        "d_input": jax.jit(lambda x, w, dy: jax.vjp(lambda x: conv(x, w), x)[1](dy)[0]),
        "d_weight": jax.jit(lambda x, w, dy: jax.vjp(lambda w: conv(x, w), w)[1](dy)[0]),
    }
    gflop = 2.0 * batch * side * side * 9 * cin * cout / 1e9
    rows = []
    for kind, fn in kinds.items():
        args = (x, w) if kind == "forward" else (x, w, dy)
        seconds, cores = _time(lambda fn=fn, args=args: fn(*args))
        shape = {"batch": batch, "side": side, "cin": cin, "cout": cout}
        rows.append({**shape, "kind": kind, "ms": seconds * 1e3, "gflops": gflop / seconds, "cpu_per_wall": cores})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.conv_grads", description=__doc__.split("\n")[0])
    p.add_argument("--json", metavar="OUT.json", help="also write the rows as JSON")
    args = p.parse_args(argv)
    rows = [r for shape in SHAPES for r in measure(*shape)]
    print(f"device: {jax.devices()[0].device_kind} x{jax.device_count()}, jax {jax.__version__}")
    print("| batch | side | cin->cout | conv | ms | GFLOP/s | CPU/wall |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['batch']} | {r['side']} | {r['cin']}->{r['cout']} | {r['kind']} | {r['ms']:.2f} "
            f"| {r['gflops']:.0f} | {r['cpu_per_wall']:.2f} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": str(jax.devices()[0].device_kind), "jax": jax.__version__, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
