"""The files an evaluation run leaves behind: summary.json, per_image.csv, summary.md and comparison grids.

Every file is written to a temporary name in its folder and renamed into place, so an interrupted run never
leaves a half-written table next to a complete one from an earlier run.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from esrgan_jax.fileio import atomic_write

METRICS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "color_drift_cbcr", "color_drift_rgb", "lpips")
CSV_FIELDS = ("dataset", "method", "image", *METRICS)


def summarize(rows: Sequence[dict[str, Any]], scale: int) -> dict[str, Any]:
    """Per-image rows -> `{"scale", "results": {method: {dataset: {metric means..., "lpips", "n"}}}}`.

    The mean of per-image PSNRs is reported, as the SR papers do (not the PSNR of the pooled MSE). LPIPS is
    None when it was not computed.
    """
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for row in rows:
        groups.setdefault(row["method"], {}).setdefault(row["dataset"], []).append(row)
    results = {}
    for method, by_data in groups.items():
        results[method] = {}
        for dataset, items in by_data.items():
            entry = {m: float(np.mean([r[m] for r in items])) for m in METRICS if m != "lpips"}
            lp = [r["lpips"] for r in items]
            entry["lpips"] = None if any(v is None for v in lp) else float(np.mean(lp))
            entry["n"] = len(items)
            results[method][dataset] = entry
    return {"scale": scale, "results": results}


def write_per_image_csv(path: str | os.PathLike, rows: Sequence[dict[str, Any]]) -> None:
    """One line per (dataset, method, image) with all metrics; LPIPS left empty when not computed."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in CSV_FIELDS})
    atomic_write(path, buf.getvalue())


def write_summary_json(path: str | os.PathLike, summary: dict[str, Any]) -> None:
    """summary.json exactly as `summarize` returns it."""
    atomic_write(path, json.dumps(summary, indent=2) + "\n")


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def _table(summary: dict[str, Any], cell) -> list[str]:
    datasets = list(dict.fromkeys(d for by_data in summary["results"].values() for d in by_data))
    head = [f"{d} ({next(iter(m[d] for m in summary['results'].values() if d in m))['n']})" for d in datasets]
    lines = ["| Method | " + " | ".join(head) + " |", "|---" * (len(datasets) + 1) + "|"]
    for method, by_data in summary["results"].items():
        cells = [cell(by_data[d]) if d in by_data else "" for d in datasets]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def summary_markdown(summary: dict[str, Any], lpips_backbone: str = "VGG16, lpips v0.1") -> str:
    """The comparison tables (methods as rows, data sets as columns) as Markdown."""
    s = summary["scale"]
    lines = [f"# Evaluation x{s}", ""]
    lines += [f"PSNR (dB) / SSIM on the Y channel (MATLAB BT.601 luma, SR as uint8, {s}-pixel border cropped):", ""]
    lines += _table(summary, lambda e: f"{_fmt(e['psnr_y'], 2)} / {_fmt(e['ssim_y'], 4)}")
    lines += ["", "PSNR (dB) / SSIM on RGB (same crop):", ""]
    lines += _table(summary, lambda e: f"{_fmt(e['psnr_rgb'], 2)} / {_fmt(e['ssim_rgb'], 4)}")
    lines += ["", "Colour drift CbCr / RGB (mean |channel mean SR - HR|, 0-255, same crop; lower is better):", ""]
    lines += _table(summary, lambda e: f"{_fmt(e['color_drift_cbcr'], 2)} / {_fmt(e['color_drift_rgb'], 2)}")
    if any(e["lpips"] is not None for by_data in summary["results"].values() for e in by_data.values()):
        lines += ["", f"LPIPS ({lpips_backbone}; full image, no crop; lower is better):", ""]
        lines += _table(summary, lambda e: _fmt(e["lpips"], 4))
    return "\n".join(lines) + "\n"


def write_summary_markdown(path: str | os.PathLike, summary: dict[str, Any]) -> None:
    """summary.md with the tables of `summary_markdown`."""
    atomic_write(path, summary_markdown(summary))
