"""Makes `docs/upscale_example.png`, the README's before/after crop of x4 upscaling.

    python docs/make_upscale_example.py [--weights runs/demo] [--image chelsea] [--out docs/upscale_example.png]

A crop of a scikit-image sample is the ground truth (HR); its MATLAB-bicubic x4 downscale is the input (LR). The
panels show the LR input enlarged with nearest neighbour, the bicubic baseline, the model given by `--weights`
(only when it exists: no pretrained weights ship with the project, and a random model would show nothing) and
the HR crop. Each panel is labelled with its PSNR on Y against the HR crop (border of 4 cropped, as the paper
tables). Use an image the model was not trained on: the demo config holds out 'chelsea' and 'coffee'.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from esrgan_jax.data.resize import bicubic_downscale, bicubic_upscale
from esrgan_jax.data.samples import sample_image
from esrgan_jax.metrics import sr_scores

SCALE = 4
LABEL_HEIGHT = 18


def panels(hr: np.ndarray, weights: str | None) -> list[tuple[str, np.ndarray]]:
    """(label, uint8 [H, W, 3]) for each panel, left to right."""
    lr = bicubic_downscale(hr, SCALE)
    out = [
        ("input (nearest x4)", np.repeat(np.repeat(lr, SCALE, 0), SCALE, 1)),
        ("bicubic x4", bicubic_upscale(lr, SCALE)),
    ]
    if weights and Path(weights).exists():
        from esrgan_jax.inference import Upscaler

        out.append((f"model x4 ({Path(weights).name})", Upscaler(weights, tile=0).upscale(lr)))
    labelled = [(f"{name}: {sr_scores(img, hr, SCALE)['psnr_y']:.2f} dB", img) for name, img in out]
    return labelled + [("ground truth (HR)", hr)]


def compose(items: list[tuple[str, np.ndarray]], gap: int = 4) -> Image.Image:
    """The panels side by side on white, each with its label above it."""
    h, w = items[0][1].shape[:2]
    canvas = Image.new("RGB", (len(items) * (w + gap) - gap, h + LABEL_HEIGHT), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (label, img) in enumerate(items):
        x = i * (w + gap)
        canvas.paste(Image.fromarray(img), (x, LABEL_HEIGHT))
        draw.text((x + 2, 3), label, fill="black")
    return canvas


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", default="runs/demo", help="model directory or training workdir (skipped if absent)")
    p.add_argument("--image", default="chelsea", help="scikit-image sample name")
    p.add_argument("--box", default="60,130,176", help="HR crop: top,left,size (a multiple of 4)")
    p.add_argument("--out", default="docs/upscale_example.png")
    args = p.parse_args()
    top, left, size = map(int, args.box.split(","))
    hr = sample_image(args.image)[top : top + size, left : left + size]
    items = panels(hr, args.weights)
    compose(items).save(args.out, optimize=True)
    print(f"wrote {args.out}: " + "; ".join(label for label, _ in items))


if __name__ == "__main__":
    main()
