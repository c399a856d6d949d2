"""SRVGGNetCompact, Real-ESRGAN's compact generator (realesr-animevideov3, realesr-general-x4v3), in flax.linen.

A plain stack of 3x3 convs and PReLUs at LR resolution, one PixelShuffle to HR, and the nearest-upsampled
input added, so the network learns a residual. Submodules are named `body_{i}` after the PyTorch
`nn.ModuleList` index `body.{i}`: the convs at even indices, the PReLUs at odd ones, the last conv at
`body_{2 num_conv + 2}`.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.models import winograd
from esrgan_jax.models.layers import conv3x3, pixel_shuffle, upsample_nearest

SCALES = (1, 2, 3, 4)


class PReLU(nn.Module):
    """PyTorch's `nn.PReLU(num_parameters=C)`: one learned slope per channel for x < 0. [..., C] -> same."""

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        slope = self.param("negative_slope", nn.initializers.constant(0.25), (x.shape[-1],))  # torch's init
        return jnp.where(x >= 0, x, slope.astype(self.dtype) * x)


class SRVGGNetCompact(nn.Module):
    """[N, H, W, num_in_ch] in [0, 1] -> [N, sH, sW, num_out_ch] (not clamped).

    Attributes:
      num_in_ch: image channels in (3, or 1 for a gray model).
      num_out_ch: image channels out; equal to num_in_ch, since the upsampled input is added to the output.
      num_feat: width of every conv but the last (64 in animevideov3 and general-x4v3).
      num_conv: convs between the first and the last (16 in animevideov3, 32 in general-x4v3).
      scale: 1 to 4; the last conv makes num_out_ch * scale**2 channels for the PixelShuffle.
      dtype: compute dtype (bfloat16 on GPUs); parameters stay float32.
      winograd: 0 (direct convolutions), or m = 2, 4, 6: every conv as Winograd F(m, 3), for inference, on
        parameters converted once by `winograd_params`.
    """

    num_in_ch: int = 3
    num_out_ch: int = 3
    num_feat: int = 64
    num_conv: int = 16
    scale: int = 4
    dtype: Any = jnp.float32
    winograd: int = 0

    pre_upsample = False  # the generator interface: takes the LR image itself
    input_multiple = 1  # any input size: every conv is 3x3, stride 1, at LR resolution
    tile_multiple = 1  # tiles may start anywhere

    @property
    def in_channels(self) -> int:
        """Image channels the network takes."""
        return self.num_in_ch

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.scale not in SCALES:
            raise ValueError(f"SRVGGNetCompact: scale must be 1, 2, 3 or 4, got {self.scale}")
        if self.num_out_ch != self.num_in_ch:
            raise ValueError(f"SRVGGNetCompact: num_out_ch {self.num_out_ch} must equal num_in_ch {self.num_in_ch}")
        h = x.astype(self.dtype)
        for i in range(self.num_conv + 1):
            h = conv3x3(self.num_feat, f"body_{2 * i}", self.dtype, winograd=self.winograd)(h)
            h = PReLU(self.dtype, name=f"body_{2 * i + 1}")(h)
        last = f"body_{2 * self.num_conv + 2}"
        h = conv3x3(self.num_out_ch * self.scale**2, last, self.dtype, winograd=self.winograd)(h)
        out = pixel_shuffle(h, self.scale).astype(jnp.float32)  # [N, sH, sW, num_out_ch]
        return out + upsample_nearest(x.astype(jnp.float32), self.scale)

    def init_params(self, rng: jax.Array, size: int = 8) -> dict:
        """Random parameters (shapes do not depend on the spatial size, so a small input is enough)."""
        return self.init(rng, jnp.zeros((1, size, size, self.num_in_ch), jnp.float32))["params"]

    def winograd_params(self, params: dict) -> dict:
        """`params` in the form this module's Winograd path takes: every conv kernel in F(m, 3) form, m =
        `self.winograd`."""
        return winograd.prepare_params(params, self.winograd)
