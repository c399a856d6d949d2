"""The GPU check's speed part: esrgan-jax float32 / bfloat16 and PyTorch float32 (TF32) / autocast bfloat16, side by
side in one process, row by row under a time budget.

Rows, most important first, so a run that is stopped by its budget keeps the headline numbers: forward at the
first LR size, the paper's train step (trunk only), the 512x512 -> 2048x2048 `Upscaler` run, the other forward
sizes, the train step with every parameter trainable. Each row: time of the first call (JAX: the ahead-of-time
compile, reported apart, plus the first run), then the median of repeated calls after warm-up, each blocking on
its result. TFLOP/s count 2 FLOPs per multiply-add of the convolutions (17.93 M per LR pixel for ESRGAN's
generator) and 3x the forward for a train step (benchmarks/common/cases.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common.cases import TILE_PAD, Case
from benchmarks.common.jax_side import TrainStep, all_trainable, trunk_only
from benchmarks.common.weights import inputs
from esrgan_jax.inference.conv_path import prepare
from esrgan_jax.models.rrdbnet import RRDBNet
from esrgan_jax.sharding import place

BF16_PEAK_TFLOPS = 790.0  # dense bf16 matrix products measured on this workplace's H200 (KINDS.md)
JAX_VARIANTS = (("jax-f32", "float32"), ("jax-bf16", "bfloat16"))
# The convolution paths beside the default one (RRDBNet fields), float32, on the row kinds each applies to:
# Winograd F(4, 3) is inference only; the concatenation-free dense block also trains.
PATH_VARIANTS = {
    "jax-f32-winograd4": ({"winograd": 4}, ("forward",)),
    "jax-f32-concat-free": ({"concat_free": True}, ("forward", "train")),
}
TORCH_VARIANTS = (("torch-f32", "float32"), ("torch-bf16", "bfloat16"))


@dataclass(frozen=True)
class Timing:
    """How many calls are timed: `warmup` untimed, then until both `min_reps` and `min_total_s`, at most `max_reps`."""

    warmup: int = 2
    min_reps: int = 5
    max_reps: int = 30
    min_total_s: float = 1.0

    def __call__(self, call: Callable[[], Any], block: Callable[[Any], Any]) -> list[float]:
        for _ in range(self.warmup):
            block(call())
        times: list[float] = []
        while len(times) < self.max_reps and (len(times) < self.min_reps or sum(times) < self.min_total_s):
            start = time.perf_counter()
            block(call())
            times.append(time.perf_counter() - start)
        return times


def plan(forward_sizes: tuple[int, ...], train: tuple[int, int], upscale: tuple[int, int]) -> list[dict[str, Any]]:
    """The rows in priority order. train = (batch, LR size); upscale = (image side, tile)."""
    batch, size = train
    first, *others = forward_sizes
    rows = [{"kind": "forward", "size": first, "batch": 1}, {"kind": "train", "size": size, "batch": batch}]
    rows[-1]["trainable"] = "trunk"
    rows.append({"kind": "upscale", "size": upscale[0], "tile": upscale[1], "batch": 1})
    rows += [{"kind": "forward", "size": s, "batch": 1} for s in others]
    rows.append({"kind": "train", "size": size, "batch": batch, "trainable": "all"})
    for row in rows:
        row["name"] = _name(row)
    return rows


def _name(row: dict[str, Any]) -> str:
    s = row["size"]
    if row["kind"] == "forward":
        return f"forward {s}x{s} b{row['batch']}"
    if row["kind"] == "train":
        return f"train b{row['batch']} {s}x{s} ({row['trainable']})"
    return f"upscale {s}x{s} -> {4 * s}x{4 * s} (tile {row['tile']})"


def _memory_mb(compiled: Any) -> float | None:
    """Device memory of one compiled program (arguments + outputs + temporaries - donated aliases), from XLA."""
    try:
        m = compiled.memory_analysis()
        total = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes
        return total / 2**20
    except Exception:  # not every backend / jax version reports it
        return None


def device_peak_mb() -> float | None:
    """The process's peak device memory so far (it never resets), where the backend reports it (GPU)."""
    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return None if peak is None else peak / 2**20


def jax_row(
    row: dict[str, Any], hparams: dict, params: Any, dtype: str, timing: Timing, fields: dict | None = None
) -> dict[str, Any]:
    """One JAX row: compile time, first call, repetitions, program and process-peak memory (+ output or tiles).
    `fields`: RRDBNet's convolution path (`PATH_VARIANTS`), default the direct one."""
    fields = fields or {}
    module = RRDBNet(**hparams, dtype=jnp.dtype(dtype), **fields)
    params = prepare(module, params)  # the Winograd row's kernels in its form, as Upscaler does
    if row["kind"] == "upscale":
        return _upscale_row(row, module, params, timing)
    start = time.perf_counter()
    if row["kind"] == "forward":
        p, x = place(params, inputs("forward", row["size"], row["batch"], 0)["lr"])
        compiled = jax.jit(lambda p, x: module.apply({"params": p}, x)).lower(p, x).compile()
        compile_s = time.perf_counter() - start
        call = lambda: compiled(p, x)  # noqa: E731
    else:
        labels = trunk_only if row["trainable"] == "trunk" else all_trainable
        step = TrainStep(module, params, Case(row["name"], "train", row["size"], row["batch"]), 0, labels)
        from esrgan_jax.compilation import compile_and_release

        step.step = compile_and_release(step.step, step.params, step.opt_state, step.lr, step.hr)
        compile_s, compiled = time.perf_counter() - start, step.step
        call = lambda: (step._run(), step.params)  # noqa: E731  (blocks on the new parameters too)
    first = time.perf_counter()
    out = jax.block_until_ready(call())
    first_s = time.perf_counter() - first + compile_s
    times = timing(call, jax.block_until_ready)
    result = {"compile_s": compile_s, "first_call_s": first_s, "times_s": times, "program_mb": _memory_mb(compiled)}
    result["process_peak_mb"] = device_peak_mb()
    if row["kind"] == "forward":
        result["output"] = np.asarray(out, np.float32)
    return result


def _upscale_row(row: dict[str, Any], module: RRDBNet, params: Any, timing: Timing) -> dict[str, Any]:
    from esrgan_jax.inference.tiling import axis_windows
    from esrgan_jax.inference.upscaler import Upscaler

    image = inputs("upscale", row["size"], 1, 0)["image"]
    upscaler = Upscaler((module, params), tile=row["tile"], tile_pad=TILE_PAD)  # tile_batch: its default
    start = time.perf_counter()
    upscaler.upscale(image)  # compiles the tile batch's program once, then runs the whole image
    first_s = time.perf_counter() - start
    times = timing(lambda: upscaler.upscale(image), lambda out: out)  # numpy output: already on the host
    tiles = len(axis_windows(row["size"], row["tile"], TILE_PAD)) ** 2
    median = float(np.median(times))
    return {
        "first_call_s": first_s,
        "times_s": times,
        "tiles": tiles,
        "tile_batch": upscaler.tile_batch,
        "tiles_per_s": tiles / median,
        "output_mp_per_s": (4 * row["size"]) ** 2 / 1e6 / median,
        "process_peak_mb": device_peak_mb(),
    }


def _torch_row(row: dict[str, Any], weights: str, model_cfg: dict, dtype: str, device: Any, timing: Timing) -> dict:
    from benchmarks.gpu import torch_cuda

    torch_cuda.configure(device)  # "torch-f32" is PyTorch's fast float32: TF32 on CUDA (the parity checks run on CPU)

    def make() -> Any:
        model = torch_cuda.build_model(weights, model_cfg, device)
        if row["kind"] == "forward":
            return torch_cuda.Forward(model, row["size"], row["batch"], dtype, device)
        return torch_cuda.TrainStep(model, row["size"], row["batch"], dtype, device, row["trainable"] == "trunk")

    result = torch_cuda.timed_row(make, device, timing)
    work = result.pop("work")
    if row["kind"] == "forward":
        result["output"] = work.output()
    return result


# Seconds one variant of a row may take before any was measured (GPU: the first compile dominates).
FIRST_ESTIMATE_S = {"forward": 45.0, "train": 90.0, "upscale": 45.0}


def run_speed(
    rows: list[dict[str, Any]],
    weights: str,
    model_cfg: dict[str, int],
    timing: Timing,
    seconds_left: Callable[[], float],
    torch_device: Any | None,
    on_row: Callable[[list[dict]], None],
) -> list[dict[str, Any]]:
    """Measures every row's variants in order; skips the rest once the budget cannot fit another one.

    Args:
      seconds_left: the time budget left; a variant starts only if it is more than 1.25x the longest one of its
        kind so far (FIRST_ESTIMATE_S before any).
      torch_device: where the PyTorch rows run (None: no PyTorch rows).
      on_row: called with the records so far after every variant (the caller rewrites its report).
    """
    from benchmarks.common.cases import macs_per_lr_pixel
    from benchmarks.common.weights import load_flax_params

    hparams, params = load_flax_params(weights)
    params = jax.tree.map(np.asarray, params)  # host copies: each row places (and may donate) its own
    macs = macs_per_lr_pixel(**model_cfg)
    longest: dict[str, float] = {}
    records: list[dict[str, Any]] = []
    for row in rows:
        paths = tuple((label, "float32") for label, (_, kinds) in PATH_VARIANTS.items() if row["kind"] in kinds)
        variants = JAX_VARIANTS + paths
        variants += TORCH_VARIANTS if torch_device is not None and row["kind"] != "upscale" else ()
        reference = None  # the jax-f32 forward output, which the other variants are compared with
        for label, dtype in variants:
            rec: dict[str, Any] = {**row, "variant": label, "dtype": dtype}
            need = 1.25 * longest.get(row["kind"], FIRST_ESTIMATE_S[row["kind"]])
            if seconds_left() < need:
                rec.update(status="skipped", reason=f"time budget: {seconds_left():.0f} s left, needs ~{need:.0f} s")
                records.append(rec)
                continue
            start = time.perf_counter()
            try:
                if label.startswith("jax"):
                    rec.update(jax_row(row, hparams, params, dtype, timing, PATH_VARIANTS.get(label, ({},))[0]))
                else:
                    rec.update(_torch_row(row, weights, model_cfg, dtype, torch_device, timing))
                out = rec.pop("output", None)
                if out is not None and reference is None:
                    reference = out
                elif out is not None:
                    rec["max_abs_diff_vs_jax_f32"] = float(np.max(np.abs(out - reference)))
                rec["median_s"] = median = float(np.median(rec["times_s"]))
                rec["tflops"] = Case(row["name"], row["kind"], row["size"], row["batch"]).gflop(macs) / 1e3 / median
                rec["of_bf16_peak"] = rec["tflops"] / BF16_PEAK_TFLOPS
                rec["status"] = "ok"
            except Exception as exc:  # recorded; the next variant still runs
                rec.update(status="failed", error=f"{type(exc).__name__}: {exc}")
            rec["seconds"] = time.perf_counter() - start
            longest[row["kind"]] = max(longest.get(row["kind"], 0.0), rec["seconds"])
            records.append(rec)
            on_row(records)
    _ratios(records)
    return records


def _ratios(records: list[dict[str, Any]]) -> None:
    """jax_over_torch on each JAX row: its median / the PyTorch median of the same row and dtype."""
    torch_median = {(r["name"], r["dtype"]): r.get("median_s") for r in records if r["variant"].startswith("torch")}
    for r in records:
        key = (r["name"], r["dtype"])
        if r["variant"].startswith("jax") and r.get("median_s") and torch_median.get(key):
            r["jax_over_torch"] = r["median_s"] / torch_median[key]
