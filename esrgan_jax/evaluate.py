"""Batch evaluation of SR methods on benchmark data sets: the comparison table of the SR papers in one command.

    python -m esrgan_jax.evaluate --data ../shared/data/benchmarks/Set5 --data samples \\
        --method bicubic --method esrgan=models/esrgan_x4 [--scale 4] [--lpips models/lpips] --out eval/

Methods are `bicubic` (MATLAB imresize, the papers' baseline) or `NAME=CHECKPOINT` (a converted model or a
training workdir; RRDBNet runs on the LR image, SRCNN on its bicubic upsampling, both tiled so that large
images fit in memory). Metrics follow `esrgan_jax.metrics` (Y channel and RGB) plus optional LPIPS (VGG16).
Outputs: summary.json, per_image.csv, summary.md, images/DATASET/METHOD/NAME.png and grid_DATASET.png.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
from tqdm import tqdm

from esrgan_jax import metrics, report
from esrgan_jax.checkpoint import load_lpips
from esrgan_jax.data import bicubic_upscale, open_dataset, write_image
from esrgan_jax.errors import UserError, run_cli
from esrgan_jax.grid import comparison_grid
from esrgan_jax.models.lpips import lpips_distance

BICUBIC = "bicubic"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")  # used as a folder name under images/
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")  # in data set names used in paths, e.g. the '/' of div2k/bicubic_x4


class MethodSpec(NamedTuple):
    """A method to evaluate: its display name and checkpoint (None for bicubic)."""

    name: str
    checkpoint: str | None


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


def load_method(method: MethodSpec, scale: int, tile: int = 256) -> Callable[[np.ndarray], np.ndarray]:
    """A function uint8 LR [h, w, C] -> uint8 SR [h*scale, w*scale, C] for `method`.

    An image that fits in one tile window runs whole: tiling would reflect-pad it to the window, which changes
    the output near its bottom/right edges. Larger images are tiled (Real-ESRGAN style, overlap 10), so memory
    stays bounded; whole-image runs compile once per image size, tiled runs once in all.

    Args:
      method: from `parse_method`.
      scale: the SR factor; a checkpoint of another scale is an error.
      tile: tile size in LR pixels for network methods (0: always whole images).
    """
    if method.checkpoint is None:
        return lambda lr: bicubic_upscale(lr, scale)
    from esrgan_jax.inference import Upscaler

    whole = Upscaler(method.checkpoint, tile=0)
    if whole.scale != scale:
        raise UserError(f"{method.checkpoint}: a x{whole.scale} model, but --scale is {scale}")
    if tile <= 0:
        return whole.upscale
    tiled = Upscaler(method.checkpoint, tile=tile)
    window = tile + 2 * tiled.tile_pad
    return lambda lr: (whole if max(lr.shape[:2]) <= window else tiled).upscale(lr)


def _lpips_fn(path: str | os.PathLike) -> Callable[[np.ndarray, np.ndarray], float]:
    module, params = load_lpips(path)
    apply = jax.jit(lambda a, b: lpips_distance(module, params, a, b))  # compiles once per image size

    def fn(sr: np.ndarray, hr: np.ndarray) -> float:
        a, b = (np.repeat(x, 3, -1) if x.shape[-1] == 1 else x for x in (sr, hr))  # gray: as a gray RGB image
        return float(apply(a.astype(np.float32) / 255.0, b.astype(np.float32) / 255.0))

    return fn


def evaluate(
    datasets: Sequence[str],
    methods: Sequence[str],
    out_dir: str | os.PathLike,
    *,
    scale: int = 4,
    lpips: str | os.PathLike | None = None,
    tile: int = 256,
    save_images: bool = True,
    progress: bool = True,
    skip_bad: bool = False,
) -> dict[str, Any]:
    """Runs every method on every data set, scores each image and writes the report files.

    Args:
      datasets: specs for `esrgan_jax.data.open_dataset` (EDSR folder, LRDIR:HRDIR, HR-only folder, samples,
        tfds:NAME[:SPLIT]); display names must differ.
      methods: `bicubic` or `NAME=CHECKPOINT` specs; names must differ.
      out_dir: where summary.json, per_image.csv, summary.md, images/ and grid_*.png go.
      scale: the SR factor (also the border cropped before PSNR/SSIM).
      lpips: a converted LPIPS model directory; without it LPIPS is null.
      tile: tile size for network methods (LR pixels; 0 = whole image).
      save_images: write each SR image under images/.
      progress: show a progress bar.
      skip_bad: leave out unreadable or mismatched images with a warning instead of stopping.

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
    runners = {m.name: load_method(m, scale, tile) for m in specs}
    score_lpips = _lpips_fn(lpips) if lpips is not None else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=sum(len(d) for d in opened) * len(specs), desc="evaluate", unit="img", disable=not progress)
    for data in opened:
        folder = _UNSAFE.sub("_", data.name)
        for i in range(len(data)):
            ex = data[i]
            panels = []
            for name, run in runners.items():
                bar.set_postfix_str(f"{data.name}/{ex.name} {name}")
                sr = np.asarray(run(ex.lr))
                if sr.shape != ex.hr.shape:
                    raise UserError(f"{data.name}/{ex.name}: {name} gave {sr.shape}, expected the HR's {ex.hr.shape}")
                try:
                    scores = metrics.sr_scores(sr, ex.hr, scale)
                except ValueError as e:  # e.g. an image too small for the 11x11 SSIM window after the crop
                    raise UserError(f"{data.name}/{ex.name}: {e}") from None
                row = {"dataset": data.name, "method": name, "image": ex.name, **scores}
                row["lpips"] = score_lpips(sr, ex.hr) if score_lpips else None
                rows.append(row)
                if save_images:
                    (out / "images" / folder / name).mkdir(parents=True, exist_ok=True)
                    write_image(out / "images" / folder / name / f"{_UNSAFE.sub('_', ex.name)}.png", sr)
                panels.append((f"{name}\n{row['psnr_y']:.2f} dB / {row['ssim_y']:.4f}", sr))
                bar.update()
            if i == 0:  # one figure per data set, on its first image
                comparison_grid(
                    out / f"grid_{folder}.png",
                    f"{data.name} / {ex.name}, x{scale} (PSNR-Y / SSIM-Y)",
                    ex.lr,
                    ex.hr,
                    panels,
                    scale,
                )
    bar.close()
    summary = report.summarize(rows, scale)
    report.write_per_image_csv(out / "per_image.csv", rows)
    report.write_summary_markdown(out / "summary.md", summary)
    report.write_summary_json(out / "summary.json", summary)
    return summary


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags of the evaluation."""
    p = argparse.ArgumentParser(prog="python -m esrgan_jax.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", action="append", required=True, help="data set spec (repeatable); see open_dataset")
    p.add_argument("--method", action="append", required=True, help="'bicubic' or NAME=CHECKPOINT (repeatable)")
    p.add_argument("--scale", type=int, default=4, help="SR factor and crop border (default 4)")
    p.add_argument(
        "--lpips", default=None, help="converted LPIPS model directory (python -m weights_conversion --kind lpips)"
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--tile", type=int, default=256, help="tile size in LR pixels for network methods; 0 = no tiling")
    p.add_argument("--no-images", action="store_true", help="do not write the SR images")
    p.add_argument("--skip-bad", action="store_true", help="leave out unreadable/mismatched images (with a warning)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parses flags, runs `evaluate` and prints the Markdown table."""
    args = build_parser().parse_args(argv)
    from esrgan_jax.compile_cache import enable_compilation_cache
    from esrgan_jax.devices import use_cpu_cores

    use_cpu_cores()  # before anything starts JAX's backends: one CPU device per core
    enable_compilation_cache()  # the next run loads the compiled network instead of rebuilding it
    summary = evaluate(
        args.data,
        args.method,
        args.out,
        scale=args.scale,
        lpips=args.lpips,
        tile=args.tile,
        save_images=not args.no_images,
        skip_bad=args.skip_bad,
    )
    print(report.summary_markdown(summary))
    print(f"wrote {Path(args.out) / 'summary.json'}, per_image.csv, summary.md, grid_*.png")
    return 0


if __name__ == "__main__":
    run_cli(main)
