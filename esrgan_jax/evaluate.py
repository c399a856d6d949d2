"""Batch evaluation of SR methods on benchmark data sets: the comparison table of the SR papers in one command.

    python -m esrgan_jax.evaluate --data ../shared/data/benchmarks/Set5 --data samples \\
        --method bicubic --method esrgan=models/esrgan_x4 [--scale 4] [--lpips models/lpips] --out eval/ \\
        [--color-fix none|mean|wavelet]

Methods are `bicubic` (MATLAB imresize, the papers' baseline) or `NAME=CHECKPOINT` (a converted model or a
training workdir, run by `esrgan_jax.inference.Upscaler`). Outputs: summary.json, per_image.csv, summary.md,
images/DATASET/METHOD/NAME.png and grid_DATASET.png (`esrgan_jax.scoring.evaluation.evaluate`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from esrgan_jax.cli import setup_jax
from esrgan_jax.errors import run_cli
from esrgan_jax.inference.color_fix import COLOR_FIXES
from esrgan_jax.inference.tiling import DEFAULT_TILE
from esrgan_jax.scoring import report
from esrgan_jax.scoring.evaluation import evaluate

__all__ = ["build_parser", "evaluate", "main"]


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
    p.add_argument(
        "--tile",
        type=int,
        default=None,
        help=f"LR tile size for network methods; 0 = no tiling (default {DEFAULT_TILE}; less for a large SwinIR)",
    )
    p.add_argument(
        "--color-fix", choices=COLOR_FIXES, default="none", help="network methods: match colours to bicubic's"
    )
    p.add_argument("--no-images", action="store_true", help="do not write the SR images")
    p.add_argument("--skip-bad", action="store_true", help="leave out unreadable/mismatched images (with a warning)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parses flags, runs `evaluate` and prints the Markdown table."""
    args = build_parser().parse_args(argv)
    setup_jax()
    summary = evaluate(
        args.data,
        args.method,
        args.out,
        scale=args.scale,
        lpips=args.lpips,
        tile=args.tile,
        save_images=not args.no_images,
        skip_bad=args.skip_bad,
        color_fix=args.color_fix,
    )
    print(report.summary_markdown(summary))
    print(f"wrote {Path(args.out) / 'summary.json'}, per_image.csv, summary.md, grid_*.png")
    return 0


if __name__ == "__main__":
    run_cli(main)
