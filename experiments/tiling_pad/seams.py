"""Seams of tiled inference on a real model: tiled output against whole-image output, on real photos.

    python -m experiments.tiling_pad --weights DIR [--json OUT] [--quick] [--images N]
        [--layout TILE,PAD ...]

DIR is a converted Real-ESRGAN x4plus (`python -m weights_conversion .../REALESRGAN_X4PLUS_UP4X.param DIR`).
The inputs are crops of B100 photos (their HR files, used as the low-resolution input: Real-ESRGAN is made for
photos at their own resolution). Two measurements per image, both against the whole image run in one call:

- **profile**: one window cut from the image interior (no side on the image border) is run on its own; each
  output pixel is binned by its distance, in input pixels, to the nearest window side. The error at distance
  >= d is what a core keeps with `tile_pad = d`, for any tile size (corners included).
- **layouts** (on request): `Upscaler(tile, tile_pad)` over the whole crop, i.e. the real seams and image
  borders. Compute is the sum of window areas over the image area (edge windows are shifted inwards, so small
  images pay more than the asymptotic ((tile + 2 pad) / tile)^2 of a large image).

Levels are 8-bit levels of the float output (|diff| * 255).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.common.machine import describe, load_average
from esrgan_jax.inference.tiling import axis_windows

DATA = Path(__file__).resolve().parents[3] / "shared/data/benchmarks/B100/HR"
IMAGES = ["101085", "108005", "189080", "102061", "126007", "208001"]
CROP = (200, 300)
PROFILE_WINDOW, PROFILE_AT = 160, (20, 70)  # a 160x160 window whose four sides lie inside the 200x300 crop
DISTANCES = (0, 4, 8, 10, 16, 24, 32, 40, 48, 64)
# A layout costs 1.4-2.6x a whole-image run on these crops, so none runs by default (--layout TILE,PAD). A seam
# keeps exactly `pad` of context only where the windows' stride is `tile`, i.e. where (side - 2 * pad) is a
# multiple of `tile` (300 = 2 * 48 + 2 * 102); elsewhere the evenly spread windows overlap more. The profile
# measures what a pad buys for any tile.
LAYOUTS: list[tuple[int, int]] = []
# (tile, pad) whose compute is tabulated for common image sizes (exact window arithmetic, nothing is run)
CANDIDATES = [(256, 10), (256, 32), (256, 48), (384, 40), (384, 48), (512, 48), (384, 64), (448, 64), (512, 64)]
SIZES = [(320, 480), (600, 800), (768, 1024), (1200, 1600), (1080, 1920), (2160, 3840), (3000, 4000)]


def load(name: str) -> np.ndarray:
    """The centre CROP of a B100 HR photo, float32 RGB in [0, 1]."""
    from PIL import Image

    image = np.asarray(Image.open(DATA / f"{name}.png").convert("RGB"), np.float32) / 255
    (h, w), (ch, cw) = image.shape[:2], CROP
    if h > w:  # portrait photos: a landscape crop still fits (481x321)
        image = image.transpose(1, 0, 2)
        h, w = w, h
    y, x = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(image[y : y + ch, x : x + cw])


def compare(out: np.ndarray, ref: np.ndarray) -> dict:
    """PSNR (dB, peak 1), max |diff| and share of pixels (any channel) off by more than 2 levels."""
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    mse = float(np.mean(diff**2))
    levels = diff.max(-1) * 255
    return {
        "psnr_db": round(10 * np.log10(1 / mse), 2) if mse > 0 else float("inf"),
        "max_levels": round(float(levels.max()), 2),
        "share_over_2": round(float(np.mean(levels > 2)), 5),
    }


def profile(up, image: np.ndarray, whole: np.ndarray, scale: int) -> dict:
    """Error of one interior window's output against the whole-image output, by distance to the window side.
    The window starts on a multiple of the model's `tile_multiple` (SwinIR: its attention window), as tiles do."""
    m, n = up.module.tile_multiple, PROFILE_WINDOW
    y, x = (v - v % m for v in PROFILE_AT)
    out = up.upscale(image[y : y + n, x : x + n])
    ref = whole[y * scale : (y + n) * scale, x * scale : (x + n) * scale]
    levels = np.abs(out.astype(np.float64) - ref).max(-1) * 255
    idx = np.arange(n * scale) // scale
    side = np.minimum(idx, n - 1 - idx)
    dist = np.minimum(side[:, None], side[None, :])  # input-pixel distance to the nearest window side
    rows = {}
    for d in DISTANCES:
        kept = levels[dist >= d]
        rows[str(d)] = {
            "max_levels_at": round(float(levels[dist == d].max()), 2),
            "max_levels_beyond": round(float(kept.max()), 2),
            "share_over_2_beyond": round(float(np.mean(kept > 2)), 5),
        }
    return rows


def window_area(shape: tuple[int, int], tile: int, pad: int) -> int:
    """Input pixels the network processes for a tiled image, as `run_tiled` lays the windows out."""
    per_axis = [(len(axis_windows(n, tile, pad)), min(tile + 2 * pad, n)) for n in shape]
    return per_axis[0][0] * per_axis[0][1] * per_axis[1][0] * per_axis[1][1]


def run(weights: str, names: list[str], layouts: list[tuple[int, int]]) -> dict:
    from esrgan_jax.inference.upscaler import Upscaler

    whole_up = Upscaler(weights, tile=0, tile_batch=1)
    tiled = {lt: Upscaler(weights, tile=lt[0], tile_pad=lt[1], tile_batch=1) for lt in layouts}
    scale = whole_up.scale
    results = []
    for name in names:
        image = load(name)
        start = time.perf_counter()
        whole = whole_up.upscale(image).astype(np.float64)
        entry = {"image": name, "shape": list(image.shape[:2]), "whole_s": round(time.perf_counter() - start, 2)}
        entry["profile"] = profile(whole_up, image, whole, scale)
        print(f"{name}: whole {entry['whole_s']:.1f} s, profile {entry['profile']}", flush=True)
        entry["layouts"] = []
        for (tile, pad), up in tiled.items():
            start = time.perf_counter()
            out = up.upscale(image)
            row = {"tile": tile, "pad": pad, "seconds": round(time.perf_counter() - start, 2)}
            row.update(compare(out, whole), compute=round(window_area(image.shape[:2], tile, pad) / image.size * 3, 3))
            print(f"  {row}", flush=True)
            entry["layouts"].append(row)
        results.append(entry)
    return {"images": results, "distances": list(DISTANCES), "profile_window": PROFILE_WINDOW}


def tables(result: dict) -> str:
    """Markdown: the profile (max over images) and the layouts (median PSNR, worst max, mean share)."""
    images = result["images"]
    lines = [
        f"Profile: one interior {result['profile_window']}x{result['profile_window']} window per image, "
        f"{len(images)} images (max / mean over images)",
        "",
        "| tile_pad (distance to the window side) | max levels at that distance | max levels at >= it "
        "| share > 2 levels at >= it |",
        "|---|---|---|---|",
    ]
    for d in result["distances"]:
        p = [im["profile"][str(d)] for im in images]
        lines.append(
            f"| {d} | {max(x['max_levels_at'] for x in p):.1f} | {max(x['max_levels_beyond'] for x in p):.1f} "
            f"| {np.mean([x['share_over_2_beyond'] for x in p]):.2%} |"
        )
    whole_s = np.median([im["whole_s"] for im in images])
    lines += (
        []
        if not images[0]["layouts"]
        else [
            "",
            f"Layouts on the {'x'.join(map(str, images[0]['shape']))} crops (whole image: median {whole_s:.1f} s)",
            "",
            "| tile | pad | PSNR dB (median, min) | max levels (worst) | share > 2 levels (mean) | compute here "
            "| compute, large image | seconds (median) |",
            "|---|---|---|---|---|---|---|---|",
        ]
    )
    for i, first in enumerate(images[0]["layouts"]):
        rows = [im["layouts"][i] for im in images]
        psnrs = [r["psnr_db"] for r in rows]
        tile, pad = first["tile"], first["pad"]
        lines.append(
            f"| {tile} | {pad} | {np.median(psnrs):.1f}, {min(psnrs):.1f} | {max(r['max_levels'] for r in rows):.1f} "
            f"| {np.mean([r['share_over_2'] for r in rows]):.3%} | {first['compute']:.2f}x "
            f"| {((tile + 2 * pad) / tile) ** 2:.2f}x | {np.median([r['seconds'] for r in rows]):.1f} |"
        )
    lines += [
        "",
        "Compute (window area / image area) of candidate settings for common image sizes, and asymptotically",
        "",
        "| tile | pad | window | " + " | ".join(f"{h}x{w}" for h, w in SIZES) + " | large |",
        "|---|---|---|" + "---|" * (len(SIZES) + 1),
    ]
    for tile, pad in CANDIDATES:
        ratios = [window_area(size, tile, pad) / (size[0] * size[1]) for size in SIZES]
        lines.append(
            f"| {tile} | {pad} | {tile + 2 * pad} | "
            + " | ".join(f"{r:.2f}x" for r in ratios)
            + f" | {((tile + 2 * pad) / tile) ** 2:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", required=True, help="converted Real-ESRGAN x4plus model directory")
    p.add_argument("--json", default="experiments/tiling_pad/results/tiling_seams.json", help="output JSON")
    p.add_argument("--images", type=int, default=None, help="how many of the B100 photos (default 3, quick 1)")
    p.add_argument("--quick", action="store_true", help="one image")
    p.add_argument("--layout", action="append", help="TILE,PAD to run instead of the default layouts (repeatable)")
    args = p.parse_args()
    from esrgan_jax.cli import setup_jax

    setup_jax()
    names = IMAGES[: args.images or (1 if args.quick else 3)]
    layouts = [tuple(map(int, x.split(","))) for x in args.layout] if args.layout else None
    machine = describe()
    result = run(args.weights, names, layouts or LAYOUTS)
    machine["load_average_end"] = load_average()
    result = {"machine": machine, "weights": str(args.weights), "crop": list(CROP), **result}
    print(tables(result))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
