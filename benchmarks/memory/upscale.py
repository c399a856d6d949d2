"""Peak host memory of `Upscaler.upscale` versus image size, tiled and whole-image.

    python benchmarks/memory/upscale.py [--out benchmarks/results/upscale_memory.json] [--quick]

Each case runs in its own subprocess (peak RSS, `ru_maxrss`, is per process and never goes down) on a random
uint8 RGB image with random weights; the numbers depend only on shapes, not on values. The default model is
RRDBNet with ESRGAN's width (num_feat 64, growth 32) but 1 block instead of 23: activation memory is set by the
width and the x4 upsampling tail, which are the same, while the compute (and CPU time) is ~8x smaller. One case
runs the full 23-block model on one 256-pixel tile, which is what it holds in memory for any image size when
tiled. The table reports the RSS before upscaling (JAX + weights), the peak, and the uint8 output's own size.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CASES = [  # (num_block, image side, tile)
    (1, 512, 256),
    (1, 1024, 256),
    (1, 2048, 256),
    (1, 256, 0),
    (1, 512, 0),
    (1, 768, 0),
    (23, 256, 256),
    (23, 512, 256),
]
QUICK = [(1, 512, 256), (1, 1024, 256), (1, 256, 0), (1, 512, 0)]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def child(num_block: int, side: int, tile: int) -> dict:
    """Runs one case in this process and returns its measurements."""
    import jax

    from esrgan_jax.inference.upscaler import Upscaler
    from esrgan_jax.models import RRDBNet

    module = RRDBNet(num_feat=64, num_block=num_block, num_grow_ch=32)
    shapes = jax.eval_shape(module.init, jax.random.key(0), np.zeros((1, 4, 4, 3), np.float32))["params"]
    rng = np.random.default_rng(0)
    # random values of the right shapes: flax's eager init is slow and memory is independent of the values
    params = jax.tree.map(lambda s: rng.normal(0, 0.02, s.shape).astype(np.float32), shapes)
    image = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    up = Upscaler((module, params), tile=tile, tile_pad=10, tile_batch=1)
    before = _rss_mib()
    start = time.perf_counter()
    out = up.upscale(image)
    seconds = time.perf_counter() - start
    return {
        "num_block": num_block,
        "side": side,
        "tile": tile,
        "rss_before_mib": round(before, 1),
        "peak_rss_mib": round(_rss_mib(), 1),
        "output_mib": round(out.nbytes / 2**20, 1),
        "seconds": round(seconds, 1),
        "compilations": up.compilations,
    }


def run_case(num_block: int, side: int, tile: int, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps([num_block, side, tile])]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"num_block": num_block, "side": side, "tile": tile, "error": f"over {timeout:.0f} s"}
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"num_block": num_block, "side": side, "tile": tile, "error": f"exit {proc.returncode}: {reason}"}
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "commit": _commit()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="benchmarks/results/upscale_memory.json")
    p.add_argument("--quick", action="store_true", help="only the small cases")
    p.add_argument(
        "--case",
        action="append",
        help="BLOCKS,SIDE,TILE to run only that case (repeatable); its rows "
        "replace the same cases in an existing --out file",
    )
    p.add_argument("--timeout", type=float, default=1800, help="seconds per case")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(*json.loads(args.child))))
        return
    header = f"{'blocks':>6} {'input':>10} {'tile':>5} {'RSS before':>11} {'peak RSS':>9} {'output':>7} {'seconds':>8}"
    print(header + "\n" + "-" * len(header))
    cases = [tuple(map(int, c.split(","))) for c in args.case] if args.case else QUICK if args.quick else CASES
    rows = []
    for case in cases:
        row = run_case(*case, timeout=args.timeout)
        rows.append(row)
        size = f"{row['side']}x{row['side']}"
        if "error" in row:
            print(f"{row['num_block']:>6} {size:>10} {row['tile']:>5}  {row['error']}")
            continue
        print(
            f"{row['num_block']:>6} {size:>10} {row['tile']:>5} {row['rss_before_mib']:>8.0f} MiB "
            f"{row['peak_rss_mib']:>5.0f} MiB {row['output_mib']:>3.0f} MiB {row['seconds']:>8.1f}",
            flush=True,
        )
    import jax

    meta = {"backend": jax.default_backend(), "device": str(jax.devices()[0]), "cpu_count": _cpus()}
    if args.case and Path(args.out).exists():  # keep the other cases' rows, in the order of CASES
        new = {(r["num_block"], r["side"], r["tile"]): r for r in rows}
        old = {(r["num_block"], r["side"], r["tile"]): r for r in json.loads(Path(args.out).read_text())["rows"]}
        merged = {**old, **new}
        rows = [merged[c] for c in CASES if c in merged] + [r for c, r in merged.items() if c not in CASES]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


def _commit() -> str:
    """The git commit measured (the model code changes what XLA keeps alive), '' outside a checkout."""
    proc = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    return proc.stdout.strip()


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else math.nan


if __name__ == "__main__":
    main()
