"""Inference: `Upscaler` (any image size, kind and bit depth) over fixed-shape tiles; `release_compiled` frees
the compiled forwards that upscalers share."""

from esrgan_jax.inference.compiled import release_compiled
from esrgan_jax.inference.upscaler import Upscaler

__all__ = ["Upscaler", "release_compiled"]
