"""Layers and initialisers shared by the models: PyTorch's default conv init, BasicSR's dense-block init,
ESRGAN's LeakyReLU and 3x3 conv (direct, or Winograd for inference), and PyTorch's PixelShuffle and nearest
upsampling."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from esrgan_jax.models import winograd

NEGATIVE_SLOPE = 0.2  # ESRGAN's LeakyReLU slope (flax's default is 0.01)

# BasicSR's `default_init_weights(..., 0.1)`: kaiming_normal_ scaled by 0.1 for the dense-block convs, which
# keeps a 23-block BN-free residual trunk stable at the start of training.
RDB_INIT = nn.initializers.variance_scaling(2.0 * 0.1**2, "fan_in", "normal")
# PyTorch's default Conv2d init (kaiming_uniform with a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
TORCH_INIT = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def leaky_relu(x: jax.Array) -> jax.Array:
    """LeakyReLU with ESRGAN's slope 0.2."""
    return nn.leaky_relu(x, negative_slope=NEGATIVE_SLOPE)


class Conv3x3(nn.Module):
    """3x3 stride-1 'SAME' conv with bias (PyTorch's padding=1), [N, H, W, Cin] -> [N, H, W, features].

    The parameters, their names, initialisation and the output equal `nn.Conv(features, (3, 3))`'s. With
    `winograd=m` (2, 4 or 6) it computes F(m, 3) instead and takes its kernel already in Winograd form,
    [m + 2, m + 2, Cin, features] (the model's `winograd_params` converts its parameters once).
    """

    features: int
    dtype: Any = jnp.float32
    kernel_init: Any = TORCH_INIT
    winograd: int = 0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        side = self.winograd + 2 if self.winograd else 3
        kernel = self.param("kernel", self.kernel_init, (side, side, x.shape[-1], self.features), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        x, kernel, bias = x.astype(self.dtype), kernel.astype(self.dtype), bias.astype(self.dtype)
        if self.winograd:
            return winograd.conv3x3(x, kernel, self.winograd) + bias
        dims = ("NHWC", "HWIO", "NHWC")
        return lax.conv_general_dilated(x, kernel, (1, 1), ((1, 1), (1, 1)), dimension_numbers=dims) + bias


def conv3x3(features: int, name: str, dtype: Any, init=TORCH_INIT, winograd: int = 0) -> Conv3x3:
    """The 3x3 conv of the models (see `Conv3x3`)."""
    return Conv3x3(features, dtype, init, winograd, name=name)


def pixel_shuffle(x: jax.Array, factor: int) -> jax.Array:
    """[N, H, W, C*s*s] -> [N, H*s, W*s, C] with PyTorch's channel order (input channel c*s*s + i*s + j)."""
    n, h, w, c = x.shape
    out = c // (factor * factor)
    x = x.reshape(n, h, w, out, factor, factor)
    x = x.transpose(0, 1, 4, 2, 5, 3)  # [N, H, i, W, j, C]
    return x.reshape(n, h * factor, w * factor, out)


def upsample_nearest(x: jax.Array, factor: int) -> jax.Array:
    """Nearest-neighbour by an integer factor, torch `F.interpolate(scale_factor=s, mode='nearest')`."""
    n, h, w, c = x.shape
    x = jnp.broadcast_to(x[:, :, None, :, None, :], (n, h, factor, w, factor, c))
    return x.reshape(n, h * factor, w * factor, c)
