"""Peak host memory and time of `Upscaler.upscale` for SwinIR x4 (the official lightweight and classical shapes),
whole-image and tiled, versus image size: the limits that keep SwinIR under 4 GiB on a small CPU machine.

    python -m benchmarks.memory.swinir [--out benchmarks/results/swinir_memory.json] [--quick] [--case light,256,0]

Each case runs in its own subprocess (peak RSS only grows) on a random uint8 RGB image with random
weights of the model's shapes (memory depends on shapes, not values). Whole-image cases grow until one passes
`--limit-mib` or fails; the tiled cases use the default `tile_pad` of 64 (windows of tile + 128). The table gives
the RSS before upscaling (JAX + weights), the peak and the seconds.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common.cases import SWINIR_COMMON, SWINIR_MODELS

CASES = [  # (model, LR side, tile; 0 = whole image)
    ("light", 128, 0),
    ("light", 256, 0),
    ("light", 384, 0),
    ("light", 512, 0),
    ("light", 1024, 512),
    ("classical", 128, 0),
    ("classical", 192, 0),
    ("classical", 256, 0),
    ("classical", 320, 0),
    ("classical", 512, 384),
]
QUICK = [("light", 64, 0), ("light", 192, 32)]  # the second: 2 x 2 windows of 160


def peak_mib() -> float:
    """This process's peak RSS in MiB: Linux's VmHWM, which starts afresh at exec (ru_maxrss keeps the peak of the
    process that forked it, e.g. a large test worker), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(model: str, side: int, tile: int) -> dict:
    """Runs one case in this process and returns its measurements."""
    import jax

    from esrgan_jax.inference.tiling import DEFAULT_TILE_PAD
    from esrgan_jax.inference.upscaler import Upscaler
    from esrgan_jax.models import build_model

    module = build_model("swinir", {**SWINIR_COMMON, **SWINIR_MODELS[model]})
    shapes = jax.eval_shape(module.init_params, jax.random.key(0))
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda s: rng.normal(0, 0.02, s.shape).astype(np.float32), shapes)
    image = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    up = Upscaler((module, params), tile=tile, tile_pad=DEFAULT_TILE_PAD)
    before = peak_mib()
    start = time.perf_counter()
    up.upscale(image)
    seconds = time.perf_counter() - start
    peak = peak_mib()
    return {"model": model, "side": side, "tile": tile, "rss_before_mib": round(before), "peak_rss_mib": round(peak),
            "seconds": round(seconds, 1)}  # fmt: skip


def run_case(model: str, side: int, tile: int, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.memory.swinir", "--child", json.dumps([model, side, tile])]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"model": model, "side": side, "tile": tile, "error": f"over {timeout:.0f} s"}
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"model": model, "side": side, "tile": tile, "error": f"exit {proc.returncode}: {reason}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory.swinir", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="benchmarks/results/swinir_memory.json")
    p.add_argument("--quick", action="store_true", help="two small cases")
    p.add_argument("--case", action="append", help="MODEL,SIDE,TILE: only this case (repeatable)")
    p.add_argument("--limit-mib", type=float, default=4096, help="skip a model's larger whole images past this peak")
    p.add_argument("--timeout", type=float, default=1200, help="seconds per case")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(*json.loads(args.child))))
        return 0
    cases = [(m, int(s), int(t)) for m, s, t in (c.split(",") for c in args.case)] if args.case else CASES
    cases = QUICK if args.quick else cases
    print(f"{'model':>9} {'LR input':>10} {'tile':>5} {'RSS before':>11} {'peak RSS':>9} {'seconds':>8}")
    rows, over = [], set()
    for model, side, tile in cases:
        if tile == 0 and model in over:
            skipped = "skipped: a smaller whole image passed the limit"
            rows.append({"model": model, "side": side, "tile": tile, "error": skipped})
            continue
        row = run_case(model, side, tile, args.timeout)
        rows.append(row)
        size = f"{side}x{side}"
        if tile == 0 and ("error" in row or row["peak_rss_mib"] > args.limit_mib):
            over.add(model)  # a larger whole image would only fail or use more
        if "error" in row:
            print(f"{model:>9} {size:>10} {tile:>5}  {row['error']}", flush=True)
            continue
        print(f"{model:>9} {size:>10} {tile:>5} {row['rss_before_mib']:>7} MiB {row['peak_rss_mib']:>5} MiB "
              f"{row['seconds']:>8.1f}", flush=True)  # fmt: skip
    from benchmarks.common.machine import describe

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": describe(), "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
