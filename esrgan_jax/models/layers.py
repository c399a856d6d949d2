"""Layers and initialisers shared by the models: PyTorch's default conv init, BasicSR's dense-block init,
ESRGAN's LeakyReLU and 3x3 conv, and PyTorch's PixelShuffle and nearest upsampling."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

NEGATIVE_SLOPE = 0.2  # ESRGAN's LeakyReLU slope (flax's default is 0.01)

# BasicSR's `default_init_weights(..., 0.1)`: kaiming_normal_ scaled by 0.1 for the dense-block convs, which
# keeps a 23-block BN-free residual trunk stable at the start of training.
RDB_INIT = nn.initializers.variance_scaling(2.0 * 0.1**2, "fan_in", "normal")
# PyTorch's default Conv2d init (kaiming_uniform with a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
TORCH_INIT = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def leaky_relu(x: jax.Array) -> jax.Array:
    """LeakyReLU with ESRGAN's slope 0.2."""
    return nn.leaky_relu(x, negative_slope=NEGATIVE_SLOPE)


def conv3x3(features: int, name: str, dtype: Any, init=TORCH_INIT) -> nn.Conv:
    """3x3 stride-1 conv with bias; 'SAME' equals PyTorch's padding=1 here."""
    return nn.Conv(features, (3, 3), padding="SAME", kernel_init=init, dtype=dtype, name=name)


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
