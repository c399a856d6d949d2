"""Scoring SR methods on data sets: the one loop behind `evaluate`, training's validation and their files.

A method is a function uint8 LR [h, w, C] -> uint8 SR [h*s, w*s, C]: `bicubic` (MATLAB imresize, the papers'
baseline) or a generator run by `esrgan_jax.inference.Upscaler`. Every image is scored with
`esrgan_jax.scoring.metrics` (Y channel and RGB, optional LPIPS); the rows become the tables of
`esrgan_jax.scoring.report` and the first image of each data set the figure of `esrgan_jax.scoring.grid`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from tqdm import tqdm

from esrgan_jax.data import open_dataset
from esrgan_jax.errors import UserError
from esrgan_jax.image import bicubic_upscale, write_image
from esrgan_jax.scoring import report
from esrgan_jax.scoring.grid import comparison_grid
from esrgan_jax.scoring.metrics import lpips_scorer, sr_scores

BICUBIC = "bicubic"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")  # used as a folder name under images/
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")  # in data set names used in paths, e.g. the '/' of div2k/bicubic_x4

Runner = Callable[[np.ndarray], np.ndarray]  # uint8 LR [h, w, C] -> uint8 SR [h*s, w*s, C]
LpipsFn = Callable[[np.ndarray, np.ndarray], float]


class MethodSpec(NamedTuple):
    """A method to evaluate: its display name and checkpoint (None for bicubic)."""

    name: str
    checkpoint: str | None


class FirstImage(NamedTuple):
    """The first image of a data set and every method's output on it: what the comparison figure shows."""

    name: str
    lr: np.ndarray
    hr: np.ndarray
    panels: list[tuple[str, np.ndarray]]  # (label with scores, SR)


def parse_method(spec: str) -> MethodSpec:
    """`bicubic` or `NAME=CHECKPOINT` -> MethodSpec; a UserError naming the spec otherwise."""
    if spec == BICUBIC:
        return MethodSpec(BICUBIC, None)
    name, sep, path = spec.partition("=")
    if not sep or not path or not _NAME.fullmatch(name) or name == BICUBIC:
        raise UserError(
            f"--method {spec!r}: expected 'bicubic' or NAME=CHECKPOINT (NAME of letters, digits, '_.+-', not 'bicubic')"
        )
    return MethodSpec(name, path)


def bicubic_runner(scale: int) -> Runner:
    """MATLAB-bicubic upscaling, the SR papers' baseline."""
    return lambda lr: bicubic_upscale(lr, scale)


def load_method(method: MethodSpec, scale: int, tile: int | None = None, color_fix: str = "none") -> Runner:
    """The runner of `method`: bicubic, or its checkpoint through `Upscaler` (tiled; 0 = whole images; with
    `color_fix` "mean" or "wavelet", colours matched to the bicubic upscale).

    A checkpoint of another scale than `scale` is an error.
    """
    if method.checkpoint is None:
        return bicubic_runner(scale)
    from esrgan_jax.inference import Upscaler

    upscaler = Upscaler(method.checkpoint, tile=tile, color_fix=color_fix)
    if upscaler.scale != scale:
        raise UserError(f"{method.checkpoint}: a x{upscaler.scale} model, but --scale is {scale}")
    return upscaler.upscale


def score_dataset(
    data: Any,
    runners: dict[str, Runner],
    scale: int,
    *,
    lpips: LpipsFn | None = None,
    limit: int = 0,
    on_output: Callable[[str, str, np.ndarray], None] | None = None,
    bar: tqdm | None = None,
) -> tuple[list[dict[str, Any]], FirstImage]:
    """Runs every method on (the first `limit` images of) `data` and scores each output.

    Args:
      data: a PairedDataset (examples with uint8 `lr` and `hr`).
      runners: method name -> runner.
      scale: the SR factor (also the border cropped before PSNR/SSIM).
      lpips: from `metrics.lpips_scorer`; without it "lpips" is None.
      limit: at most this many images (0 = all).
      on_output: called as (method, image name, SR) for every output, e.g. to save it.
      bar: a progress bar to advance by one per output.

    Returns:
      (rows {"dataset", "method", "image", psnr/ssim..., "lpips"}, the first image with every method's output).
    """
    n = len(data) if limit <= 0 else min(limit, len(data))
    rows: list[dict[str, Any]] = []
    first = None
    for i in range(n):
        ex = data[i]
        panels = []
        for name, run in runners.items():
            if bar is not None:
                bar.set_postfix_str(f"{data.name}/{ex.name} {name}")
            sr = np.asarray(run(ex.lr))
            if sr.shape != ex.hr.shape:
                raise UserError(f"{data.name}/{ex.name}: {name} gave {sr.shape}, expected the HR's {ex.hr.shape}")
            try:
                scores = sr_scores(sr, ex.hr, scale)
            except ValueError as e:  # e.g. an image too small for the 11x11 SSIM window after the crop
                raise UserError(f"{data.name}/{ex.name}: {e}") from None
            row = {"dataset": data.name, "method": name, "image": ex.name, **scores}
            row["lpips"] = lpips(sr, ex.hr) if lpips else None
            rows.append(row)
            if on_output is not None:
                on_output(name, ex.name, sr)
            panels.append((f"{name}\n{row['psnr_y']:.2f} dB / {row['ssim_y']:.4f}", sr))
            if bar is not None:
                bar.update()
        if first is None:
            first = FirstImage(ex.name, ex.lr, ex.hr, panels)
    return rows, first


def save_figure(path: str | os.PathLike, dataset: str, first: FirstImage, scale: int) -> None:
    """The comparison figure of one data set's first image (HR overview, LR, every method, HR)."""
    title = f"{dataset} / {first.name}, x{scale} (PSNR-Y / SSIM-Y)"
    comparison_grid(path, title, first.lr, first.hr, first.panels, scale)


def write_reports(out: Path, rows: Sequence[dict[str, Any]], scale: int, stem: str = "summary") -> dict[str, Any]:
    """per_image.csv, STEM.md and STEM.json for `rows`; returns the summary."""
    summary = report.summarize(rows, scale)
    report.write_per_image_csv(out / "per_image.csv", rows)
    report.write_summary_markdown(out / f"{stem}.md", summary)
    report.write_summary_json(out / f"{stem}.json", summary)
    return summary


def evaluate(
    datasets: Sequence[str],
    methods: Sequence[str],
    out_dir: str | os.PathLike,
    *,
    scale: int = 4,
    lpips: str | os.PathLike | None = None,
    tile: int | None = None,
    save_images: bool = True,
    progress: bool = True,
    skip_bad: bool = False,
    color_fix: str = "none",
) -> dict[str, Any]:
    """Runs every method on every data set, scores each image and writes the report files.

    Args:
      datasets: specs for `esrgan_jax.data.open_dataset` (EDSR folder, LRDIR:HRDIR, HR-only folder, samples,
        tfds:NAME[:SPLIT]); display names must differ.
      methods: `bicubic` or `NAME=CHECKPOINT` specs; names must differ.
      out_dir: where summary.json, per_image.csv, summary.md, images/ and grid_*.png go.
      scale: the SR factor (also the border cropped before PSNR/SSIM).
      lpips: a converted LPIPS model directory; without it LPIPS is null.
      tile: tile size for network methods (LR pixels; 0 = whole image; None = each model's default).
      save_images: write each SR image under images/.
      progress: show a progress bar.
      skip_bad: leave out unreadable or mismatched images with a warning instead of stopping.
      color_fix: "none", "mean" or "wavelet": the network methods' colour fix (`Upscaler`'s).

    Returns:
      The summary (the content of summary.json).
    """
    specs = [parse_method(m) for m in methods]
    if not specs or not datasets:
        raise UserError("nothing to evaluate: give at least one --data and one --method")
    if len({m.name for m in specs}) != len(specs):
        raise UserError(f"method names must differ: {', '.join(m.name for m in specs)}")
    opened = [open_dataset(spec, scale, verbose=progress, skip_bad=skip_bad) for spec in datasets]
    if len({d.name for d in opened}) != len(opened):
        raise UserError(f"data sets must have different names: {', '.join(d.name for d in opened)}")
    runners = {m.name: load_method(m, scale, tile, color_fix) for m in specs}
    score_lpips = lpips_scorer(lpips) if lpips is not None else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=sum(len(d) for d in opened) * len(specs), desc="evaluate", unit="img", disable=not progress)
    for data in opened:
        folder = _UNSAFE.sub("_", data.name)

        def save(method: str, image: str, sr: np.ndarray, folder: str = folder) -> None:
            (out / "images" / folder / method).mkdir(parents=True, exist_ok=True)
            write_image(out / "images" / folder / method / f"{_UNSAFE.sub('_', image)}.png", sr)

        data_rows, first = score_dataset(
            data, runners, scale, lpips=score_lpips, on_output=save if save_images else None, bar=bar
        )
        rows += data_rows
        save_figure(out / f"grid_{folder}.png", data.name, first, scale)
    bar.close()
    return write_reports(out, rows, scale)
