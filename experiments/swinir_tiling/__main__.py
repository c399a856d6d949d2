"""`python -m experiments.swinir_tiling [--shape light|classical] [--images N] [--layout TILE,PAD ...]`: the tiling
experiment of `experiments.tiling_pad` (an interior window's error by distance to its sides, and real layouts)
on a SwinIR x4 of an official shape with random weights, or on a trained SwinIR (`--weights DIR`).

No SwinIR weights can be installed here, so the model is the official class (spandrel's copy) with the test kit's
random weights (`testkit.torch_models.swinir_init_`: bias tables N(0, 1), weights scaled by 1/sqrt(fan_in), so
attention is far from uniform), converted with the project's converter. Tiles start on multiples of the window, as
`Upscaler` lays them out; the profile window too.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchmarks.common.cases import SWINIR_COMMON, SWINIR_MODELS
from benchmarks.common.machine import describe, load_average
from experiments.tiling_pad.seams import IMAGES, run, tables


def random_swinir(shape: str, out: Path, seed: int = 0) -> Path:
    """Writes a converted SwinIR of `shape` with the test kit's random weights to `out`; returns it."""
    import torch

    from testkit.torch_models import swinir_init_
    from testkit.torchvision_standin import torchvision_standin
    from weights_conversion import convert_file

    hparams = {**SWINIR_COMMON, **SWINIR_MODELS[shape]}
    with torchvision_standin(unload=("spandrel",)):
        from spandrel.architectures.SwinIR import SwinIR

        kwargs = {k: v for k, v in hparams.items() if k not in ("scale", "num_feat")}
        model = swinir_init_(SwinIR(upscale=hparams["scale"], **kwargs), seed)
    torch.save({"params": model.state_dict()}, out.with_suffix(".pth"))
    convert_file(out.with_suffix(".pth"), out)
    return out


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m experiments.swinir_tiling", description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", choices=sorted(SWINIR_MODELS), default="light")
    p.add_argument("--json", help="output JSON (default experiments/swinir_tiling/results/SHAPE.json)")
    p.add_argument("--images", type=int, default=3, help="how many of the B100 photos")
    p.add_argument("--layout", action="append", help="TILE,PAD over the whole crop (repeatable)")
    p.add_argument("--weights", help="a trained SwinIR model directory instead of random weights (--shape is then its)")
    args = p.parse_args()
    from esrgan_jax.cli import setup_jax

    setup_jax()
    layouts = [tuple(map(int, x.split(","))) for x in args.layout or ()]
    machine = describe()
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights or random_swinir(args.shape, Path(tmp) / args.shape)
        result = run(str(weights), IMAGES[: args.images], layouts)
    machine["load_average_end"] = load_average()
    model = f"SwinIR x4 trained, {args.weights}" if args.weights else f"SwinIR {args.shape} x4, random weights"
    result = {"machine": machine, "model": model + ("" if args.weights else " (swinir_init_ seed 0)"), **result}
    print(tables(result))
    out = Path(args.json or f"experiments/swinir_tiling/results/{args.shape}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
