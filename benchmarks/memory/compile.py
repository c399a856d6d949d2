"""Host memory of whole-image inference over many image sizes, with the shared forward's cache capped and not.

    python -m benchmarks.memory.compile [--sizes 12] [--json benchmarks/results/compile_memory.json] [--quick]

Whole-image inference (`Upscaler(tile=0)`) compiles the generator once per image size, and each executable stays
in host memory while the jit cache holds it (`esrgan_jax.inference.compiled`). Each mode runs in its own
process on the same random-weight model and the same sequence of image sizes near 120x80 (B100's LR size):
"capped" with the default capacity, "kept" with the cap lifted. After each image the process's current RSS is
read (`/proc/self/statm`); the table shows it per image, and the JSON keeps every row.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MODES = ("capped", "kept")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def sizes(n: int) -> list[tuple[int, int]]:
    """`n` distinct (h, w) near 80x120, every one divisible by 4 so rows split evenly over the cores."""
    pairs = [(80 + 4 * k, 120 + 4 * k) for k in range((n + 1) // 2)]
    return [hw if i % 2 == 0 else hw[::-1] for hw in pairs for i in range(2)][:n]


def child(mode: str, n: int, num_block: int) -> dict:
    """Runs one mode in this process: every size once, RSS after each."""
    from esrgan_jax.sharding import ensure_cpu_cores

    ensure_cpu_cores()
    import jax

    from esrgan_jax.inference.compiled import FORWARD
    from esrgan_jax.inference.upscaler import Upscaler
    from esrgan_jax.models import RRDBNet

    if mode == "kept":
        FORWARD.capacity = 10**9
    module = RRDBNet(num_feat=64, num_block=num_block, num_grow_ch=32)
    shapes = jax.eval_shape(module.init, jax.random.key(0), np.zeros((1, 4, 4, 3), np.float32))["params"]
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda s: rng.normal(0, 0.02, s.shape).astype(np.float32), shapes)
    up = Upscaler((module, params), tile=0)
    rows, start = [], _rss_mib()
    for h, w in sizes(n):
        t0 = time.perf_counter()
        up.upscale(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        rows.append({"size": [h, w], "seconds": round(time.perf_counter() - t0, 1), "rss_mib": round(_rss_mib())})
    return {"mode": mode, "capacity": FORWARD.capacity, "rss_start_mib": round(start), "compilations": up.compilations,
            "rows": rows}  # fmt: skip


def run(n: int, num_block: int) -> list[dict]:
    """Both modes, each in its own process."""
    out = []
    for mode in MODES:
        cmd = [sys.executable, "-m", "benchmarks.memory.compile", "--child", mode, "--sizes", str(n)]
        proc = subprocess.run([*cmd, "--num-block", str(num_block)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"error: {mode}: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def table(results: list[dict]) -> list[str]:
    """Markdown: one row per image, the RSS of each mode after it."""
    head = "| image | size | " + " | ".join(f"{r['mode']} RSS MiB" for r in results) + " |"
    lines = [head, "|---" * (2 + len(results)) + "|"]
    lines.append("| (start) | | " + " | ".join(str(r["rss_start_mib"]) for r in results) + " |")
    for i, row in enumerate(results[0]["rows"]):
        rss = " | ".join(str(r["rows"][i]["rss_mib"]) for r in results)
        lines.append(f"| {i + 1} | {row['size'][0]}x{row['size'][1]} | {rss} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory.compile", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, default=12, help="how many image sizes (default 12)")
    p.add_argument("--num-block", type=int, default=23, help="RRDB blocks (default 23, the real model)")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 block, 3 sizes")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--child", choices=MODES, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    n, nb = (3, 1) if args.quick else (args.sizes, args.num_block)
    if args.child:
        print(json.dumps(child(args.child, n, nb)))
        return 0
    results = run(n, nb)
    print("\n".join(table(results)))
    if args.json:
        Path(args.json).write_text(json.dumps({"num_block": nb, "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
