"""Network interpolation (ESRGAN's `net_interp.py`): `(1 - alpha) * A + alpha * B` over two models' variables.

ESRGAN blends its PSNR-oriented model (A) with its GAN model (B) to trade fidelity against perceptual quality
with no retraining. Used by `python -m weights_conversion.interpolate` (writes the blend) and by `Upscaler`
(blends on the fly); both go through `check_compatible` so they refuse the same mismatches with the same line.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from esrgan_jax.errors import UserError


class InterpolationError(UserError):
    """The two models cannot be blended (different kinds, hyper-parameters or variable shapes), or bad alpha."""


def check_alpha(alpha: float) -> None:
    """Refuses a blend weight outside [0, 1]."""
    if not 0.0 <= alpha <= 1.0:
        raise InterpolationError(f"--alpha must be in [0, 1], got {alpha}")


def check_compatible(a: Any, b: Any, meta_a: dict, meta_b: dict, vars_a: Any, vars_b: Any) -> None:
    """Raises InterpolationError naming `a` and `b` unless kind, hyper-parameters and variable shapes agree."""
    if meta_a["kind"] != meta_b["kind"]:
        raise InterpolationError(f"{a} is a {meta_a['kind']} model but {b} is a {meta_b['kind']} model")
    ha, hb = meta_a["hparams"], meta_b["hparams"]
    for key in sorted(set(ha) | set(hb)):
        if ha.get(key) != hb.get(key):
            raise InterpolationError(
                f"{a} and {b} differ in hyper-parameter {key!r}: {ha.get(key)!r} vs {hb.get(key)!r}"
            )
    flat_a = {jax.tree_util.keystr(p): v for p, v in jax.tree_util.tree_flatten_with_path(vars_a)[0]}
    flat_b = {jax.tree_util.keystr(p): v for p, v in jax.tree_util.tree_flatten_with_path(vars_b)[0]}
    if set(flat_a) != set(flat_b):
        only = sorted(set(flat_a) ^ set(flat_b))[0]
        raise InterpolationError(f"{a} and {b} hold different variables (e.g. {only})")
    for key, va in flat_a.items():
        if np.shape(va) != np.shape(flat_b[key]):
            raise InterpolationError(
                f"{a} and {b} differ in the shape of {key}: {np.shape(va)} vs {np.shape(flat_b[key])}"
            )


def blend(vars_a: Any, vars_b: Any, alpha: float) -> Any:
    """`(1 - alpha) * A + alpha * B` leaf by leaf, accumulated in float64 so alpha 0 and 1 give A and B exactly."""
    return jax.tree.map(
        lambda x, y: ((1.0 - alpha) * np.asarray(x, np.float64) + alpha * np.asarray(y, np.float64)).astype(
            np.asarray(x).dtype
        ),
        vars_a,
        vars_b,
    )
