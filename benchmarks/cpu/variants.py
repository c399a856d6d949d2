"""A/B timing of the generators' convolution paths in one process: direct (today's), Winograd F(m, 3) for inference
and RRDBNet's concatenation-free dense block, on the full ESRGAN shape (or `--arch compact`: animevideov3's
SRVGGNetCompact, forward rows only), placed as the library places inputs (one CPU device per core, rows split over
them).

    python -m benchmarks.cpu.variants --json benchmarks/results/variants_DATE.json

Each case alternates the variants rep by rep, so all see the same load; prints medians and each variant's time
relative to direct, and the largest output difference from direct.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import jax
import numpy as np

from benchmarks.common.cases import FULL_MODEL, NCNN_MODELS, Case
from benchmarks.common.jax_side import TrainStep
from benchmarks.common.machine import describe
from benchmarks.cpu.profile_step import op_times
from esrgan_jax.architectures.compact.model import SRVGGNetCompact
from esrgan_jax.inference.conv_path import prepare
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.sharding import place, use_cpu_cores

FORWARD_VARIANTS = {
    "direct": {},
    "concat_free": {"concat_free": True},
    **{f"winograd{m}": {"winograd": m} for m in (2, 4, 6)},
}
TRAIN_VARIANTS = {"direct": {}, "concat_free": {"concat_free": True}}
COMPACT = {k: v for k, v in NCNN_MODELS["animevideov3"].items() if k != "kind"}


def forward_fn(arch: type, model: dict, fields: dict[str, Any], params: Any, x: jax.Array) -> tuple[Any, Any]:
    """(compiled apply on `x`'s shape, parameters in the path's form) of `arch` with `fields`."""
    module = arch(**model, **fields)
    params = prepare(module, params)
    return jax.jit(lambda p, x: module.apply({"params": p}, x)).lower(params, x).compile(), params


def run(
    model: dict, sizes: list[int], train_size: int, reps: int, paths: list[str], arch: type = RRDBNet,
    profile: int = 0,
) -> list:  # fmt: skip
    """Forward rows at each LR size and, where a training path is named, a train row (RRDBNet), for the named
    `paths` (with "direct", the reference); with `profile`, each forward's time by op category over that many
    calls (`profile_step.op_times`)."""
    forward = {n: f for n, f in FORWARD_VARIANTS.items() if n == "direct" or n in paths}
    train = {n: f for n, f in TRAIN_VARIANTS.items() if n == "direct" or n in paths}
    if arch is not RRDBNet:  # the other generators have no concatenation-free path
        forward = {n: f for n, f in forward.items() if "concat_free" not in f}
    params = arch(**model).init_params(jax.random.key(0))
    rng = np.random.default_rng(0)
    rows = []
    for size in sizes:
        params_p, x = place(params, rng.random((1, size, size, 3), np.float32))
        fns = {name: forward_fn(arch, model, f, params_p, x) for name, f in forward.items()}
        calls = {n: (lambda f=f, p=p, x=x: f(p, x)) for n, (f, p) in fns.items()}
        rows.append(timed(f"forward {size}x{size} b1", calls, reps))
        if profile:
            ms = {
                n: op_times(fns[n][0].as_text(), lambda c=c: jax.block_until_ready(c()), profile)
                for n, c in calls.items()
            }
            rows[-1]["profile_ms"] = ms
            for n, cats in ms.items():
                print(f"  {n}:", ", ".join(f"{k} {v:.1f} ms" for k, v in sorted(cats.items(), key=lambda kv: -kv[1])))
    if arch is not RRDBNet or len(train) == 1:  # a train row only to compare a training path with direct
        return rows
    # The benchmark's own train step (trunk-only Adam, L1, donated state), one per path on host copies of the
    # weights, so the donations do not touch each other's buffers.
    host = jax.tree.map(np.asarray, params)
    case = Case(f"train b1 {train_size}x{train_size}", "train", train_size)
    steps = {n: TrainStep(RRDBNet(**model, **f), host, case, seed=0) for n, f in train.items()}
    rows.append(timed(case.name, {n: step._run for n, step in steps.items()}, reps))
    return rows


def timed(name: str, calls: dict[str, Any], reps: int) -> dict:
    outs = {n: np.asarray(jax.block_until_ready(c())) for n, c in calls.items()}  # compile + warm-up
    times: dict[str, list[float]] = {n: [] for n in calls}
    for _ in range(reps):
        for n, c in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(c())
            times[n].append(time.perf_counter() - start)
    med = {n: float(np.median(t)) for n, t in times.items()}
    row = {"case": name, "median_s": med, "vs_direct": {n: med[n] / med["direct"] for n in med},
           "max_abs_diff": {n: float(np.abs(outs[n] - outs["direct"]).max()) for n in outs}}  # fmt: skip
    print(name, " ".join(f"{n} {med[n]:.3f}s ({row['vs_direct'][n]:.2f}x, {row['max_abs_diff'][n]:.1e})" for n in med),
          flush=True)  # fmt: skip
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="64,128")
    p.add_argument("--train-size", type=int, default=64)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--paths", default=",".join(FORWARD_VARIANTS), help="paths beside direct (comma-separated)")
    p.add_argument("--blocks", type=int, default=FULL_MODEL["num_block"], help="RRDBs (23: ESRGAN)")
    p.add_argument("--arch", choices=("rrdbnet", "compact"), default="rrdbnet")
    p.add_argument("--profile", type=int, default=0, metavar="CALLS", help="also time each forward's ops by category")
    p.add_argument("--json")
    args = p.parse_args(argv)
    use_cpu_cores()  # as the CLIs and Upscaler: one CPU device per core (no-op once JAX has started)
    arch, model = (RRDBNet, {**FULL_MODEL, "num_block": args.blocks}) if args.arch == "rrdbnet" else (
        SRVGGNetCompact, COMPACT)  # fmt: skip
    sizes, paths = [int(s) for s in args.sizes.split(",")], args.paths.split(",")
    rows = run(model, sizes, args.train_size, args.reps, paths, arch, args.profile)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"machine": describe(), "args": vars(args), "devices": jax.device_count(), "rows": rows}, f, indent=1
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
