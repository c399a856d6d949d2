"""Upscale image files, folders or globs with a converted or trained generator (Real-ESRGAN-style flags).

    python -m esrgan_jax.upscale INPUT [INPUT ...] [--weights CHECKPOINT_OR_WORKDIR] -o OUTDIR [--tile 512]
        [--tile-pad 64] [--outscale F] [--alpha-upsampler model|bicubic] [--suffix out] [--ext auto|png|jpg]
        [--dtype float32|bfloat16] [--overwrite] [--weights-b B --alpha 0.8] [--color-fix none|mean|wavelet]

Without --weights it uses the model that ships inside the package (`esrgan_jax.weights`) and says so. Each
input is read in its own bit depth (8/16), mode (gray/RGB/RGBA) and EXIF orientation and written back in
the same kind, atomically. A bad input is reported by name and the rest still run; the exit code is then 2.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from esrgan_jax.cli import setup_jax
from esrgan_jax.errors import UserError, run_cli
from esrgan_jax.image.io import IMAGE_EXTENSIONS, list_images, read_raw, write_image
from esrgan_jax.inference.color_fix import COLOR_FIXES
from esrgan_jax.inference.tiling import DEFAULT_TILE, DEFAULT_TILE_PAD
from esrgan_jax.inference.upscaler import ALPHA_UPSAMPLERS, Upscaler
from esrgan_jax.models import COMPUTE_DTYPES
from esrgan_jax.weights import builtin_dir, describe


@dataclass
class UpscaleReport:
    """What a batch did: outputs written and skipped, inputs that failed (with the one-line reason)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    megapixels: float = 0.0  # output pixels written, in millions

    def summary(self) -> str:
        rate = self.megapixels / self.seconds if self.seconds > 0 else 0.0
        return (
            f"upscaled {len(self.written)} image(s) in {self.seconds:.1f} s ({rate:.3f} output megapixels/s); "
            f"{len(self.skipped)} skipped, {len(self.failed)} failed"
        )


def expand_inputs(inputs: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Files, folders (their images, sorted) and globs -> (unique image paths in order, one-line errors)."""
    paths, errors = [], []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = list_images(path)
        elif path.exists():
            found = [path]
        elif glob.has_magic(item):
            found = [
                Path(p) for p in sorted(glob.glob(item, recursive=True)) if Path(p).suffix.lower() in IMAGE_EXTENSIONS
            ]
        else:
            found = []
        if not found:
            what = f"folder holds no {'/'.join(IMAGE_EXTENSIONS)} image" if path.is_dir() else "no such file or match"
            errors.append(f"{item}: {what}")
        paths += found
    return list(dict.fromkeys(paths)), errors


def output_path(src: Path, outdir: Path, suffix: str, ext: str, mode: str) -> Path:
    """OUTDIR/<stem>_<suffix>.<ext>; 'auto' keeps the input's extension; alpha forces PNG (as Real-ESRGAN)."""
    extension = src.suffix.lower() if ext == "auto" else f".{ext}"
    if mode == "RGBA" and extension in (".jpg", ".jpeg"):
        extension = ".png"
    return outdir / (f"{src.stem}_{suffix}{extension}" if suffix else f"{src.stem}{extension}")


def upscale_files(
    inputs: Sequence[str],
    outdir: str | Path,
    upscaler: Upscaler,
    *,
    outscale: float | None = None,
    suffix: str = "out",
    ext: str = "auto",
    overwrite: bool = False,
    progress: bool = True,
) -> UpscaleReport:
    """Upscales every input image into `outdir`; one bad input never stops the others.

    Args:
      inputs: image files, folders or glob patterns.
      outdir: output folder (created).
      upscaler: the loaded model.
      outscale: final scale relative to the input (default: the model's).
      suffix: appended to each output's stem ('' for none).
      ext: 'auto' (the input's extension), 'png' or 'jpg'.
      overwrite: replace existing outputs instead of skipping them.
      progress: tqdm bars over the images and over each image's tiles.

    Returns:
      The report; failures are also printed to stderr as they happen, each naming its file.
    """
    outdir = Path(outdir)
    paths, failed = expand_inputs(inputs)
    for msg in failed:
        tqdm.write(f"error: {msg}", file=sys.stderr)
    report = UpscaleReport(failed=failed)
    seen: dict[Path, Path] = {}
    start = time.perf_counter()
    for src in tqdm(paths, desc="images", unit="img", disable=not progress):
        try:
            image, info = read_raw(src)
            dst = output_path(src, outdir, suffix, ext, info.mode)
            if dst in seen:
                raise UserError(f"{src}: its output {dst} was already written from {seen[dst]} in this run")
            seen[dst] = src
            if dst.exists() and not overwrite:
                tqdm.write(f"skip: {dst} exists (use --overwrite to replace it)", file=sys.stderr)
                report.skipped.append(dst)
                continue
            out = upscaler.upscale(image, outscale=outscale, progress=progress)
            write_image(dst, out, info)
        except (UserError, OSError) as e:
            msg = str(e) if isinstance(e, UserError) else f"{src}: {e}"
            tqdm.write(f"error: {msg}", file=sys.stderr)
            report.failed.append(msg)
            continue
        report.written.append(dst)
        report.megapixels += out.shape[0] * out.shape[1] / 1e6
    report.seconds = time.perf_counter() - start
    return report


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; defaults follow Real-ESRGAN's inference_realesrgan.py where it has the flag."""
    p = argparse.ArgumentParser(prog="python -m esrgan_jax.upscale", description=__doc__.split("\n")[0])
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or globs")
    p.add_argument(
        "--weights", default=None, help="model directory or training workdir (default: the built-in compact x4)"
    )
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument(
        "--tile",
        type=int,
        default=None,
        help=f"tile size in input pixels; 0 = whole image (default {DEFAULT_TILE}; less for a large SwinIR)",
    )
    p.add_argument(
        "--tile-pad",
        type=int,
        default=None,
        help=f"overlap per tile side, cropped (default {DEFAULT_TILE_PAD}; 32 for SwinIR)",
    )
    p.add_argument("--tile-batch", type=int, default=None, help="tiles per device call (default: 4 GPU, 1 CPU)")
    p.add_argument("--outscale", type=float, default=None, help="final scale (default: the model's)")
    p.add_argument("--alpha-upsampler", choices=ALPHA_UPSAMPLERS, default="model", help="how alpha is upscaled")
    p.add_argument("--suffix", default="out", help="output name suffix: NAME_SUFFIX.EXT (default 'out')")
    p.add_argument("--ext", choices=("auto", "png", "jpg"), default="auto", help="output format (alpha -> png)")
    p.add_argument("--dtype", choices=tuple(COMPUTE_DTYPES), default="float32", help="compute dtype")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (default: skip them)")
    p.add_argument("--weights-b", default=None, help="second model to blend with --weights (same kind/hparams)")
    p.add_argument("--alpha", type=float, default=0.8, help="blend: (1 - alpha) * weights + alpha * weights-b")
    p.add_argument(
        "--color-fix", choices=COLOR_FIXES, default="none", help="match colours to the bicubic upscale (default none)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Parses flags, upscales, prints the summary line; returns 2 if any input failed."""
    args = parse_args(argv)
    setup_jax()
    if args.outscale is not None and args.outscale <= 0:
        raise UserError(f"--outscale {args.outscale}: expected a positive factor")
    if args.weights is None:
        print(describe("pass --weights"), file=sys.stderr)
    upscaler = Upscaler(
        args.weights or builtin_dir(),
        tile=args.tile,
        tile_pad=args.tile_pad,
        tile_batch=args.tile_batch,
        dtype=args.dtype,
        weights_b=args.weights_b,
        alpha=args.alpha,
        alpha_upsampler=args.alpha_upsampler,
        color_fix=args.color_fix,
    )
    report = upscale_files(
        args.inputs,
        args.output,
        upscaler,
        outscale=args.outscale,
        suffix=args.suffix,
        ext=args.ext,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(report.summary())
    return 2 if report.failed else 0


if __name__ == "__main__":
    run_cli(main)
