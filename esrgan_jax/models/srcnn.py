"""SRCNN (Dong et al. 2014), the 9-5-5 baseline of the comparison table, in flax.linen.

SRCNN does not upscale by itself: it refines an image that was already bicubic-upsampled by `scale`
(`pre_upsample`); `esrgan_jax.models.network_input` makes that input for every caller (MATLAB-compatible bicubic).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.models.layers import TORCH_INIT


class SRCNN(nn.Module):
    """[N, H, W, C] bicubic-upsampled image -> [N, H, W, C] restored image (same size, 'SAME' padding).

    Attributes:
      num_channels: image channels (3 for RGB; the paper used 1, the Y channel).
      scale: the upsampling factor the input was made with (metadata for callers).
      filters: widths of the first two layers (64, 32).
      kernels: kernel sizes of the three layers (9, 5, 5).
    """

    num_channels: int = 3
    scale: int = 4
    filters: tuple[int, int] = (64, 32)
    kernels: tuple[int, int, int] = (9, 5, 5)
    dtype: Any = jnp.float32

    pre_upsample = True  # the generator interface (with RRDBNet): the input is already upsampled by `scale`
    input_multiple = 1  # any input size ('SAME' convs)
    tile_multiple = 1  # tiles may start anywhere

    @property
    def in_channels(self) -> int:
        """Image channels the network takes (3 for RGB, 1 for the paper's Y-only network)."""
        return self.num_channels

    def init_params(self, rng: jax.Array, size: int = 16) -> dict:
        """Random parameters (shapes do not depend on the spatial size, so a small input is enough)."""
        return self.init(rng, jnp.zeros((1, size, size, self.num_channels), jnp.float32))["params"]

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k1, k2, k3 = self.kernels
        x = x.astype(self.dtype)
        x = nn.relu(
            nn.Conv(self.filters[0], (k1, k1), padding="SAME", kernel_init=TORCH_INIT, dtype=self.dtype, name="conv1")(
                x
            )
        )
        x = nn.relu(
            nn.Conv(self.filters[1], (k2, k2), padding="SAME", kernel_init=TORCH_INIT, dtype=self.dtype, name="conv2")(
                x
            )
        )
        x = nn.Conv(
            self.num_channels, (k3, k3), padding="SAME", kernel_init=TORCH_INIT, dtype=self.dtype, name="conv3"
        )(x)
        return x.astype(jnp.float32)
