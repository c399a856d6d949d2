"""Network interpolation (ESRGAN's `net_interp.py`): blend two models of the same architecture.

    python -m weights_conversion.interpolate A B --alpha 0.8 OUT

OUT = (1 - alpha) * A + alpha * B over every variable (params and, for discriminators, batch_stats). ESRGAN
blends its PSNR-oriented model (A) with its GAN model (B) to trade fidelity against perceptual quality with no
retraining; alpha 0 gives A, alpha 1 gives B. A and B must be model directories (converted or exported) of the
same kind with identical hyper-parameters.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from esrgan_jax.errors import run_cli
from esrgan_jax.models.blend import blend, check_alpha, check_compatible
from esrgan_jax.models.store import load_variables, save_model


def interpolate(a: str | os.PathLike, b: str | os.PathLike, alpha: float, out: str | os.PathLike) -> Path:
    """Writes the model directory `out` = (1 - alpha) * A + alpha * B.

    Args:
      a: model directory (or training workdir) of the first model; alpha 0 returns it unchanged.
      b: model directory of the second model, same kind and hyper-parameters as `a`.
      alpha: blend weight of `b`, in [0, 1].
      out: model directory to write (atomically; may be `a` or `b` themselves).

    Returns:
      The absolute path of `out`.
    """
    check_alpha(alpha)
    a, b = Path(a), Path(b)
    meta_a, vars_a = load_variables(a)
    meta_b, vars_b = load_variables(b)
    check_compatible(a, b, meta_a, meta_b, vars_a, vars_b)
    blended = blend(vars_a, vars_b, alpha)
    source: dict[str, Any] = {
        "interpolated": {"a": str(a), "b": str(b), "alpha": alpha},
        "a_source": meta_a.get("source", {}),
        "b_source": meta_b.get("source", {}),
    }
    return save_model(out, meta_a["kind"], meta_a["hparams"], blended, source=source)


def main(argv: list[str] | None = None) -> int:
    """Parses `A B --alpha X OUT`, blends, and prints one line."""
    parser = argparse.ArgumentParser(
        prog="python -m weights_conversion.interpolate",
        description="Blend two esrgan-jax models of the same architecture: OUT = (1 - alpha) * A + alpha * B.",
    )
    parser.add_argument("a", help="first model directory (alpha 0 gives this one), e.g. the PSNR-oriented model")
    parser.add_argument("b", help="second model directory (alpha 1 gives this one), e.g. the ESRGAN model")
    parser.add_argument("out", help="model directory to write")
    parser.add_argument("--alpha", type=float, required=True, help="weight of B, in [0, 1] (ESRGAN uses 0.8)")
    args = parser.parse_intermixed_args(argv)
    dst = interpolate(args.a, args.b, args.alpha, args.out)
    print(f"wrote {dst} = {1 - args.alpha:g} * {args.a} + {args.alpha:g} * {args.b}")
    return 0


if __name__ == "__main__":
    run_cli(main)
