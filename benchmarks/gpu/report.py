"""The GPU check's short Markdown report (gpu_check.md), rendered from its JSON record (benchmarks/gpu/check.py)."""

from __future__ import annotations

from typing import Any


def _f(x: Any, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _environment(env: dict[str, Any]) -> list[str]:
    v, t = env["versions"], env.get("torch") or {}
    plugin = v.get("jax-cuda13-plugin") or v.get("jax-cuda12-plugin")
    return [
        f"- Device: {env['device_kind']} ({env['jax_backend']}; JAX sees {', '.join(env['jax_devices'])}); "
        f"JAX memory limit {_f(env['jax_bytes_limit_gib'], '.1f')} GiB; nvidia-smi: {env['nvidia_smi'] or '-'}",
        f"- jax {v['jax']}, jaxlib {v['jaxlib']}, CUDA plugin {plugin or '-'}, flax {v['flax']}, optax {v['optax']}; "
        f"torch {v['torch']} on {t.get('device', '-')} (CUDA {t.get('cuda') or '-'}, cuDNN {t.get('cudnn') or '-'})",
        f"- jax_default_matmul_precision: {env['jax_default_matmul_precision']} (speed rows); parity runs at highest",
    ]


def _parity(result: dict[str, dict]) -> list[str]:
    lines = ["| case | max abs diff | tolerance | ok |", "|---|---|---|---|"]
    for name, r in result.items():
        diff = r.get("error") or r.get("skipped") or _f(r.get("max_abs_diff"), ".2e")
        extra = f" (train mode {r['train_mode']['max_abs_diff']:.2e})" if "train_mode" in r else ""
        lines.append(f"| {name} | {diff}{extra} | {_f(r.get('atol'), '.0e')} | {r.get('ok')} |")
    return lines


def _train(result: dict[str, dict]) -> list[str]:
    lines = ["| config | steps | losses at the last step | seconds | ok |", "|---|---|---|---|---|"]
    for name, r in result.items():
        last = r.get("losses", [{}])[-1] if r.get("losses") else {}
        losses = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "step") or r.get("error", "-")
        lines.append(f"| {name} | {r.get('steps', '-')} | {losses} | {_f(r.get('seconds'), '.1f')} | {r.get('ok')} |")
    return lines


def _set5(r: dict[str, Any]) -> list[str]:
    lines = ["| method | PSNR-Y | SSIM-Y | PSNR-RGB | SSIM-RGB |", "|---|---|---|---|---|"]
    for method, s in r["results"].items():
        lines.append(
            f"| {method} | {s['psnr_y']:.4f} | {s['ssim_y']:.5f} | {s['psnr_rgb']:.4f} | {s['ssim_rgb']:.5f} |"
        )
    deltas = ", ".join(f"{k} {v:+.1e}" for k, v in r["bicubic_minus_reference"].items())
    return [*lines, "", f"Bicubic minus the CPU numbers in README.md: {deltas} (ok: {r['ok']})"]


def _speed(records: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| row | variant | median ms | TFLOP/s | of 790 | JAX/PyTorch | first call s (compile) | peak MiB "
        "| program MiB | diff vs jax-f32 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for r in records:
        if r["status"] != "ok":
            notes.append(f"- {r['name']}, {r['variant']}: {r['status']}: {r.get('error') or r.get('reason')}")
            continue
        peak = r.get("peak_mb") or r.get("process_peak_mb")
        first = f"{r['first_call_s']:.1f}" + (f" ({r['compile_s']:.1f})" if "compile_s" in r else "")
        if r["kind"] == "upscale":
            first += f"; {r['tiles']} tiles, {r['tiles_per_s']:.1f} tiles/s, {r['output_mp_per_s']:.1f} MP/s"
        lines.append(
            f"| {r['name']} | {r['variant']} | {1e3 * r['median_s']:.2f} | {r['tflops']:.1f} "
            f"| {100 * r['of_bf16_peak']:.1f}% | {_f(r.get('jax_over_torch'), '.2f')} | {first} "
            f"| {_f(peak, '.0f')} | {_f(r.get('program_mb'), '.0f')} | {_f(r.get('max_abs_diff_vs_jax_f32'), '.1e')} |"
        )
    return lines + ([""] + notes if notes else [])


RENDER = {"parity": _parity, "train_smoke": _train, "set5": _set5, "speed": _speed}
TITLES = {
    "parity": "Correctness: converted models vs PyTorch (CPU, float32), JAX at highest precision",
    "train_smoke": "Training smoke: 2 steps of the tiny `mse` and `perceptual_esrgan` configs",
    "set5": "Set5 x4",
    "speed": "Speed (median of repeated calls after warm-up; peak MiB: PyTorch per row, JAX the process's so far)",
}


def markdown(report: dict[str, Any]) -> str:
    """The report so far: environment, a status line per section, then each section's table."""
    sections = report["sections"]
    lines = [f"# esrgan-jax GPU check ({report['mode']})", ""]
    env = sections.get("environment", {}).get("result")
    if env:
        lines += _environment(env) + [""]
    lines.append(f"Elapsed {report.get('elapsed_s', 0):.0f} s (speed budget {report['budget_s']:.0f} s). Sections:")
    for name, s in sections.items():
        why = s.get("error") or s.get("reason") or ""
        lines.append(f"- {name}: {s['status']} ({s.get('seconds', 0):.1f} s){' ' + why if why else ''}")
    for name, render in RENDER.items():
        result = sections.get(name, {}).get("result")
        if result:
            lines += ["", f"## {TITLES[name]}", ""] + render(result)
    return "\n".join(lines) + "\n"
