"""`python -m benchmarks.gpu.check --out DIR [--data SET5] [--budget-s 420] [--cpu-smoke]`: esrgan-jax on a GPU, once.

One command that checks what the design promises on a GPU and measures it, within a short lease of the machine:
the environment, the conversion parity cores against PyTorch (benchmarks/gpu/parity.py), two training steps of
the `mse` and `perceptual_esrgan` configs and Set5 scoring (benchmarks/gpu/smoke.py), then speed rows of esrgan-jax and
PyTorch side by side (benchmarks/gpu/speed.py, benchmarks/gpu/torch_cuda.py). Every section is timed and its failure
recorded without losing the others; speed rows that would not fit the time budget are skipped and listed. DIR
gets gpu_check.json and gpu_check.md (benchmarks/gpu/report.py), rewritten after every section and row, so even
a killed run leaves what it measured. Exit status 0: every section ran and every check passed.

`--cpu-smoke` runs the same code on the CPU with tiny sizes (PyTorch rows on the CPU too), in about a minute;
tests/benchmarks/test_gpu_check.py runs it. How to run it on a GPU machine: docs/performance.md ("GPU check").
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.common.cases import FULL_MODEL
from benchmarks.gpu.speed import Timing

SCHEMA = "esrgan-jax-gpu-check/1"
SECTIONS = ("environment", "weights", "parity", "train_smoke", "set5", "speed")
PACKAGES = ("jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda13-plugin", "flax", "optax", "orbax-checkpoint", "numpy")
PACKAGES += ("torch", "dm-pix", "grain", "ml-collections", "tensorboardX", "pypng", "lpips", "scikit-image")


@dataclass(frozen=True)
class Sizes:
    """The workload sizes: the GPU run's, or the CPU smoke run's."""

    model: dict[str, int]
    forward: tuple[int, ...]  # LR sides of the forward rows (batch 1)
    train: tuple[int, int]  # (batch, LR side) of the train rows
    upscale: tuple[int, int]  # (image side, tile) of the Upscaler row
    timing: Timing = field(default_factory=Timing)
    small: bool = False


GPU = Sizes(dict(FULL_MODEL), (64, 128, 256), (16, 32), (512, 256))
SMOKE = Sizes({"num_feat": 8, "num_block": 1, "num_grow_ch": 4}, (16,), (2, 16), (64, 32), Timing(1, 2, 2, 0.0), True)


class Budget:
    """Seconds since the start and seconds left of `--budget-s`."""

    def __init__(self, seconds: float):
        self.seconds, self.start = seconds, time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.seconds - self.elapsed()


def _nvidia_smi() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    query = "--query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit"
    proc = subprocess.run(["nvidia-smi", query, "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
    return proc.stdout.strip() or proc.stderr.strip()


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment(torch_device: Any, backend: str) -> dict[str, Any]:
    """The GPU (JAX's and PyTorch's view, nvidia-smi), library versions, precision and allocator settings; `ok`
    says whether JAX runs on the expected backend ("gpu", or "cpu" in the smoke run)."""
    import jax

    from benchmarks.common import machine
    from benchmarks.gpu import torch_cuda

    device = jax.devices()[0]
    stats = device.memory_stats() or {}
    return {
        "ok": jax.default_backend() == backend,
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "device_kind": device.device_kind,
        "jax_bytes_limit_gib": stats["bytes_limit"] / 2**30 if "bytes_limit" in stats else None,
        "jax_default_matmul_precision": jax.config.jax_default_matmul_precision,
        "versions": {p: _version(p) for p in PACKAGES},
        "torch": torch_cuda.describe(torch_device) if torch_device is not None else None,
        "nvidia_smi": _nvidia_smi(),
        "env": {k: os.environ.get(k) for k in ("XLA_FLAGS", "XLA_PYTHON_CLIENT_MEM_FRACTION", "JAX_PLATFORMS")},
        "machine": machine.describe(),
    }


def _torch_device(cpu_smoke: bool) -> Any:
    """Where PyTorch's speed rows run: the GPU; the CPU in the smoke run (which checks their code); else None."""
    import torch

    if cpu_smoke:
        torch.set_num_threads(1)  # beside JAX's threads on a small CPU, OpenMP's spin-waiting stalls both
        return torch.device("cpu")
    return torch.device("cuda") if torch.cuda.is_available() else None


def shared_weights(path: Path, sizes: Sizes) -> dict[str, Any]:
    """The speed rows' weights: the library's initialiser on the GPU (its time is reported); on the CPU smoke
    run, numpy draws of the same shapes (the initialiser's eager compiles would be most of the smoke's time)."""
    import numpy as np

    from benchmarks.common.weights import flax_to_state_dict, make_weights

    if not sizes.small:
        return make_weights(path, sizes.model)
    from esrgan_jax.models.rrdbnet import RRDBNet
    from testkit.flax_models import random_params

    params = random_params(RRDBNet(**sizes.model), 0, np.zeros((1, 4, 4, 3), np.float32))
    np.savez(path, **flax_to_state_dict(params))
    return {"init_s": None, "source": "numpy (testkit.flax_models.random_params)"}


def passed(name: str, result: Any) -> bool:
    """Whether a section's result holds no failed check (skipped cases and budget-skipped rows do not fail)."""
    if name == "speed":
        return all(r["status"] != "failed" for r in result)
    if name in ("parity", "train_smoke"):
        return all(r.get("ok") is not False for r in result.values())
    if name in ("set5", "environment"):
        return result.get("ok") is not False
    return True


def run_section(report: dict, name: str, fn: Callable[[], Any], write: Callable[[], None]) -> Any:
    """Runs one section, records its status, time and result (or error), rewrites the report; returns the result."""
    print(f"[gpu_check] {name} ...", flush=True)
    start, record = time.perf_counter(), {}
    report["sections"][name] = record
    try:
        record["result"] = result = fn()
        record["status"] = "ok" if passed(name, result) else "check failed"
    except Exception as exc:  # recorded; the next section still runs
        traceback.print_exc()
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        result = None
    record["seconds"] = time.perf_counter() - start
    print(f"[gpu_check] {name}: {record['status']} in {record['seconds']:.1f} s", flush=True)
    write()
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu.check", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="folder for gpu_check.json and gpu_check.md")
    p.add_argument("--data", help="Set5 as an EDSR-layout folder (HR/ + LR_bicubic/X4/); without it, no Set5 part")
    p.add_argument("--budget-s", type=float, default=420.0, help="speed rows stop before this many seconds (420)")
    p.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on the CPU, to check the script itself")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    budget = Budget(args.budget_s)
    if args.cpu_smoke:
        import jax

        jax.config.update("jax_platforms", "cpu")  # before JAX starts its backends
    # JAX takes 75% of the GPU up front by default; PyTorch runs in the same process and needs the rest.
    os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.45")
    from benchmarks.common.report import write_json
    from benchmarks.gpu import report as gpu_report
    from benchmarks.gpu.parity import run_parity
    from benchmarks.gpu.smoke import set5_eval, train_smoke
    from benchmarks.gpu.speed import plan, run_speed

    sizes = SMOKE if args.cpu_smoke else GPU
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"schema": SCHEMA, "mode": "cpu-smoke" if args.cpu_smoke else "gpu", "sections": {}}
    report.update(budget_s=args.budget_s, model=sizes.model, argv=sys.argv[1:])

    def write() -> None:
        report["elapsed_s"] = budget.elapsed()
        write_json(report, out / "gpu_check.json")
        (out / "gpu_check.md").write_text(gpu_report.markdown(report))

    def speed() -> list[dict]:
        rows = plan(sizes.forward, sizes.train, sizes.upscale)
        partial = report["sections"]["speed"]
        on_row = lambda records: (partial.update(result=records, status="running"), write())  # noqa: E731
        return run_speed(rows, str(weights), sizes.model, sizes.timing, budget.left, torch_device, on_row)

    with tempfile.TemporaryDirectory(prefix="esrgan-gpu-check-") as tmp:
        work, weights = Path(tmp), Path(tmp) / "weights.npz"
        try:
            torch_device = _torch_device(args.cpu_smoke)
        except Exception as exc:  # no PyTorch rows; the rest still runs
            torch_device, report["torch_error"] = None, f"{type(exc).__name__}: {exc}"
        backend = "cpu" if args.cpu_smoke else "gpu"
        env = run_section(report, "environment", lambda: environment(torch_device, backend), write) or {}
        run_section(report, "weights", lambda: shared_weights(weights, sizes), write)
        (work / "parity").mkdir()
        parity = lambda: run_parity(work / "parity", str(weights), sizes.model, sizes.small)  # noqa: E731
        run_section(report, "parity", parity, write)
        trained = run_section(report, "train_smoke", lambda: train_smoke(work / "train"), write) or {}
        mse = trained.get("mse", {}).get("workdir") if trained.get("mse", {}).get("ok") else None
        if args.data:
            run_section(report, "set5", lambda: set5_eval(args.data, work, mse), write)
        else:
            report["sections"]["set5"] = {"status": "skipped", "reason": "no --data given", "seconds": 0.0}
        if env.get("ok"):
            run_section(report, "speed", speed, write)
        else:  # full-size rows on a CPU would only use up the lease
            report["sections"]["speed"] = {"status": "skipped", "reason": f"JAX is not on {backend}", "seconds": 0.0}
    failed = [n for n, s in report["sections"].items() if s["status"] not in ("ok", "skipped")]
    report["passed"] = not failed
    write()
    print(gpu_report.markdown(report))
    verdict = f"FAILED: {', '.join(failed)}" if failed else "all passed"
    print(f"[gpu_check] wrote {out / 'gpu_check.json'} and gpu_check.md; {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
