"""The benchmark's outputs: the printed table and the JSON file (written atomically).

JSON schema (`"schema": "esrgan-jax-bench/1"`): `machine` (see machine.py), `model` (hyper-parameters),
`macs_per_lr_pixel`, `settings`, `init` (`jax_init_s` for the first / second process), and `rows`: one per
case with `case` (name, kind, size, batch, tile, reps), `gflop`, `max_abs_diff` (JAX vs PyTorch output), and per
framework (`jax`, `torch`): `times_s` (every timed repetition, all rounds), `median_s`, `gflops`, `peak_rss_mb`
(max over rounds), `first_call_s` (per round: the first call of a fresh process, compile included) and
`build_s`, `peak_rss_mb_rounds` (per round: round 1 includes compilation memory); `ratio` is JAX median /
PyTorch median. With `--ncnn`, inference rows also have `ncnn` (the same per-framework keys), `ratio_ncnn` (JAX
median / ncnn median) and `max_abs_diff_ncnn`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SCHEMA = "esrgan-jax-bench/1"
ROW_KEYS = ("case", "gflop", "jax", "torch", "ratio", "max_abs_diff")
SIDE_KEYS = ("times_s", "median_s", "gflops", "peak_rss_mb", "first_call_s", "build_s")


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def table(result: dict) -> str:
    """A Markdown table of the rows (pasteable into RESULTS.md), plus the init line; with ncnn rows (`--ncnn`),
    ncnn's time and JAX/ncnn beside JAX/PyTorch."""
    ncnn = any("ncnn" in row for row in result["rows"])
    head = (
        "| case | JAX s | PyTorch s | JAX/PyTorch " + ("| ncnn s | JAX/ncnn " if ncnn else "")
        + "| JAX GFLOP/s | PyTorch GFLOP/s | JAX peak MiB (per round) | PyTorch peak MiB "
        "| JAX first call s (cold, cached) | PyTorch first call s | max abs diff |"
    )  # fmt: skip
    lines = [head, "|" + "---|" * (13 if ncnn else 11)]
    for row in result["rows"]:
        j, t = row["jax"], row["torch"]
        first = ", ".join(_fmt(x, ".2f") for x in j["first_call_s"])
        versus = ""
        if ncnn:
            n = row.get("ncnn", {}).get("median_s")
            versus = f"| {_fmt(n, '.3f')} | **{_fmt(row.get('ratio_ncnn'), '.2f')}** "
        lines.append(
            f"| {row['case']['name']} | {_fmt(j['median_s'], '.3f')} | {_fmt(t['median_s'], '.3f')} "
            f"| **{_fmt(row['ratio'], '.2f')}** {versus}| {_fmt(j['gflops'], '.0f')} | {_fmt(t['gflops'], '.0f')} "
            f"| {', '.join(_fmt(x, '.0f') for x in j['peak_rss_mb_rounds'])} | {_fmt(t['peak_rss_mb'], '.0f')} "
            f"| {first} "
            f"| {_fmt(t['first_call_s'][0], '.2f')} | {_fmt(row['max_abs_diff'], '.1e')} |"
        )
    init = result["init"]["jax_init_s"]
    lines.append("")
    whats = {"compact": "loading the built-in model", "swinir": "`SwinIR.init_params`"}
    what = whats.get(result["model"].get("kind"), "`RRDBNet.init_params`")
    if result["model"].get("ncnn"):
        what = "converting the wheel's ncnn model"
    lines.append(f"JAX {what} (fresh process): " + ", ".join(f"{x:.2f} s" for x in init) + " (cold cache, warm)")
    return "\n".join(lines)


def header(result: dict) -> str:
    m = result["machine"]
    v = m["versions"]
    devices = {str(r["versions"]["jax"].get("devices")) for r in result["rows"]}
    return (
        f"{m['date_utc']}  {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; jax {v['jax']} "
        f"on {'/'.join(sorted(devices))} device(s), flax {v['flax']}, "
        f"torch {v['torch']}; load average at start {m['load_average_start']}, at end {m.get('load_average_end')}"
    )


def write_json(result: dict, path: str | os.PathLike) -> None:
    """Writes `result` to `path` via a temporary file in the same folder, so a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, path)
