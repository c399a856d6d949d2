"""Inference: `Upscaler` (any image size, kind and bit depth) over fixed-shape tiles."""

from esrgan_jax.inference.upscaler import Upscaler

__all__ = ["Upscaler"]
