"""Makes `docs/upscale_example.png`, the README's before/after figure of x4 upscaling.

    python docs/make_upscale_example.py [--weights runs/demo] [--image chelsea] [--out docs/upscale_example.png]

A crop of a scikit-image sample is the ground truth (HR); its MATLAB-bicubic x4 downscale is the input (LR). The
figure is `evaluate`'s comparison figure (esrgan_jax.scoring.grid): the LR input, the bicubic baseline, the model
given by `--weights` (only when it exists: no pretrained weights ship with the project, and a random model would
show nothing) and the HR crop, each labelled with PSNR-Y / SSIM-Y against the HR (border of 4 cropped, as the
paper tables). Use an image the model was not trained on: the demo config holds out 'chelsea' and 'coffee'.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from esrgan_jax.data.samples import sample_image
from esrgan_jax.image.resize import bicubic_downscale
from esrgan_jax.scoring.evaluation import BICUBIC, bicubic_runner
from esrgan_jax.scoring.grid import comparison_grid
from esrgan_jax.scoring.metrics import sr_scores

SCALE = 4


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", default="runs/demo", help="model directory or training workdir (skipped if absent)")
    p.add_argument("--image", default="chelsea", help="scikit-image sample name")
    p.add_argument("--box", default="60,130,176", help="HR crop: top,left,size (a multiple of 4)")
    p.add_argument("--out", default="docs/upscale_example.png")
    args = p.parse_args()
    top, left, size = map(int, args.box.split(","))
    hr = sample_image(args.image)[top : top + size, left : left + size]
    lr = bicubic_downscale(hr, SCALE)
    runners = {BICUBIC: bicubic_runner(SCALE)}
    if args.weights and Path(args.weights).exists():
        from esrgan_jax.inference import Upscaler

        runners[Path(args.weights).name] = Upscaler(args.weights, tile=0).upscale
    panels = []
    for name, run in runners.items():
        sr = run(lr)
        s = sr_scores(sr, hr, SCALE)
        panels.append((f"{name}\n{s['psnr_y']:.2f} dB / {s['ssim_y']:.4f}", sr))
    comparison_grid(args.out, f"{args.image}, x{SCALE} (PSNR-Y / SSIM-Y)", lr, hr, panels, SCALE)
    print(f"wrote {args.out}: " + "; ".join(label.replace("\n", " ") for label, _ in panels))


if __name__ == "__main__":
    main()
