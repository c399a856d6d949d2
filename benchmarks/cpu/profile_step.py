"""`python -m benchmarks.cpu.profile_step [--case NAME ...] [--json OUT.json]`: where each framework's time goes.

Profiles the benchmark's own workloads (benchmarks/common/jax_side.py, torch_side.py; same weights and inputs) and
sums the time of every op by category, so a row of `benchmarks.cpu.run` that misses its target can be explained
op by op (benchmarks/RESULTS.md). Each framework runs in its own subprocess, after a warm-up:
- JAX: `jax.profiler.trace`; XLA:CPU records one event per executed HLO op (thunk) on each device's thread.
  Ops are classified from the compiled HLO: a convolution whose window is the image (not 3x3) is a weight
  gradient; of the 3x3 ones, `op_name` tells the input gradient (`transpose(jvp(...))`) from the forward.
- PyTorch: `torch.profiler`, self CPU time per aten op. oneDNN computes both gradients of a convolution in one
  op (`convolution_backward`), so PyTorch's backward convolutions are one category.
Times are milliseconds per step summed over threads that record ops (JAX: one per device), with shares.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.common.cases import FULL_MODEL, full_cases

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CASES = ("forward 64x64 b1", "train b1 64x64", "train b16 32x32")


def classify_hlo(hlo_text: str) -> dict[str, str]:
    """HLO instruction name -> category, for every instruction of an optimised module (`compiled.as_text()`).

    A fusion is classified by the Winograd step it computes (`winograd_input`, `winograd_product`,
    `winograd_output`: the named scopes of esrgan_jax.models.winograd), else by the convolution inside its fused
    computation, if it has one (YNNPACK's `ynn_fusion`s do), otherwise by its name.
    """
    bodies: dict[str, list[str]] = {}
    current: list[str] = []
    entry = ""
    for line in hlo_text.splitlines():
        header = re.match(r"(ENTRY )?%?([\w.\-]+) .*\{$", line)
        if header and not line.startswith(" "):
            current = bodies.setdefault(header.group(2), [])
            entry = header.group(2) if header.group(1) else entry
        elif line.startswith(" "):
            current.append(line)
    categories = {}
    for line in bodies.get(entry, []):  # the executed ops (thunks); fused computations are their insides
        m = re.match(r"\s*(?:ROOT )?%?([\w.\-]+) = .*? ([\w\-]+)\(", line)
        if not m:
            continue
        name, op = m.groups()
        called = re.search(r"calls=%?([\w.\-]+)", line)
        inner = bodies.get(called.group(1), []) if called else []
        conv = line if op == "convolution" else next((x for x in inner if " convolution(" in x), None)
        scope = re.search(r'op_name="[^"]*/(winograd_\w+)/', line)  # esrgan_jax.models.winograd's named scopes
        categories[name] = scope.group(1) if scope else _conv_category(conv) if conv else _other_category(name, op)
    return categories


def _conv_category(conv_line: str) -> str:
    window = re.search(r"window=\{size=(\d+)x(\d+)", conv_line)
    # The weight gradient convolves the input with the output gradient: its window is the image, not 3x3 (and
    # XLA may drop its op_name).
    if window is not None and window.groups() != ("3", "3"):
        return "conv d_weight"
    return "conv d_input" if "transpose(jvp" in conv_line else "conv forward"  # autodiff's name for backward ops


def _other_category(name: str, op: str) -> str:
    if op in ("all-reduce", "all-gather", "collective-permute", "all-to-all", "reduce-scatter"):
        return "communication"
    if "transpose" in name or "copy" in name or op in ("copy", "transpose"):
        return "copy / transpose"
    if "concatenate" in name or op == "concatenate":
        return "concatenate"
    return "elementwise / other"


def torch_category(op: str) -> str:
    """aten op name -> category (self time)."""
    if "convolution_backward" in op:
        return "conv backward (d_input + d_weight)"
    if "convolution" in op or op == "aten::conv2d":
        return "conv forward"
    if op in ("aten::cat", "aten::copy_", "aten::contiguous", "aten::clone"):
        return "concatenate" if op == "aten::cat" else "copy / transpose"
    return "elementwise / other"


def profile_jax(case, weights: str, reps: int) -> dict[str, float]:
    from benchmarks.common import jax_side
    from esrgan_jax.sharding import use_cpu_cores

    use_cpu_cores()
    work = jax_side.build(case, weights, 0, False)
    work.first_call()
    work.rep()
    fn = work.step if case.kind == "train" else work.fn.lower(work.params, work.x).compile()
    return op_times(fn.as_text(), work.rep, reps)


def op_times(hlo_text: str, call: Callable[[], object], reps: int) -> dict[str, float]:
    """Milliseconds per call of `call` (which runs the compiled module `hlo_text` and waits for it) by category,
    from a `jax.profiler` trace of `reps` calls."""
    import jax

    names = classify_hlo(hlo_text)
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp, create_perfetto_trace=True):
            for _ in range(reps):
                call()
        with gzip.open(glob.glob(f"{tmp}/**/perfetto_trace.json.gz", recursive=True)[0]) as f:
            events = json.load(f)
    events = events["traceEvents"] if isinstance(events, dict) else events
    totals: collections.Counter = collections.Counter()
    for e in events:
        if e.get("ph") == "X" and e.get("name") in names:
            totals[names[e["name"]]] += e["dur"] / 1e3 / reps
    return dict(totals)


def profile_torch(case, weights: str, reps: int, model: dict[str, int] = FULL_MODEL) -> dict[str, float]:
    import torch

    from benchmarks.common import torch_side

    work = torch_side.build(case, weights, 0, model)
    work.first_call()
    work.rep()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(reps):
            work.rep()
    totals: collections.Counter = collections.Counter()
    for ev in prof.key_averages():
        totals[torch_category(ev.key)] += ev.self_cpu_time_total / 1e3 / reps
    return dict(totals)


def _worker(framework: str, case_name: str, weights: str, reps: int) -> None:
    case = next(c for c in full_cases() if c.name == case_name)
    totals = (profile_jax if framework == "jax" else profile_torch)(case, weights, reps)
    print(json.dumps(totals))


def _run_worker(framework: str, case: str, weights: str, reps: int) -> dict[str, float]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.cpu.profile_step",
        "--worker",
        framework,
        "--case",
        case,
        "--weights",
        weights,
    ]
    out = subprocess.run([*cmd, "--reps", str(reps)], cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{framework} profile of {case!r} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(case: str, jax_ms: dict[str, float], torch_ms: dict[str, float]) -> str:
    lines = [f"{case}", "| framework | category | ms per step | share |", "|---|---|---|---|"]
    for framework, totals in (("JAX", jax_ms), ("PyTorch", torch_ms)):
        total = sum(totals.values())
        for category, ms in sorted(totals.items(), key=lambda kv: -kv[1]):
            lines.append(f"| {framework} | {category} | {ms:.1f} | {100 * ms / total:.0f}% |")
        lines.append(f"| {framework} | **total** | **{total:.1f}** | |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cpu.profile_step", description=__doc__.split("\n")[0])
    p.add_argument(
        "--case", action="append", help=f"a case of benchmarks.cpu.run (default: {', '.join(DEFAULT_CASES)})"
    )
    p.add_argument("--reps", type=int, default=2, help="profiled steps per case (after a warm-up)")
    p.add_argument("--json", metavar="OUT.json", help="also write the per-category totals as JSON")
    p.add_argument("--worker", choices=("jax", "torch"), help=argparse.SUPPRESS)
    p.add_argument("--weights", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    known = [c.name for c in full_cases()]
    cases = args.case or list(DEFAULT_CASES)
    if bad := [c for c in cases if c not in known]:
        p.error(f"unknown case {bad[0]!r}; expected one of: {', '.join(known)}")
    if args.worker:
        _worker(args.worker, cases[0], args.weights, args.reps)
        return 0
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        weights = f"{tmp}/weights.npz"
        init = f"from benchmarks.common.weights import make_weights; make_weights({weights!r}, {FULL_MODEL!r})"
        subprocess.run([sys.executable, "-c", init], cwd=ROOT, check=True)  # JAX's init stays out of this process
        for case in cases:
            results[case] = {fw: _run_worker(fw, case, weights, args.reps) for fw in ("jax", "torch")}
            print(table(case, results[case]["jax"], results[case]["torch"]), "\n", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
