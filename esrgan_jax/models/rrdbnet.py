"""RRDBNet, the ESRGAN generator (Wang et al. 2018), in flax.linen.

Submodule names mirror BasicSR's state-dict keys (`conv_first`, `body.{i}.rdb{j}.conv{k}`, `conv_body`,
`conv_up1`, `conv_up2`, `conv_hr`, `conv_last`), with `.` written as `_` in the list index, so converting a
PyTorch checkpoint is a rename plus a kernel transpose.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.models import winograd
from esrgan_jax.models.dense_block import dense_block, dense_block_concat_free, dense_block_winograd
from esrgan_jax.models.layers import RDB_INIT, conv3x3, leaky_relu, upsample_nearest


def pixel_unshuffle(x: jax.Array, factor: int) -> jax.Array:
    """[N, H, W, C] -> [N, H/s, W/s, C*s*s] with PyTorch's channel order (index c*s*s + i*s + j).

    dm_pix.space_to_depth uses TF's order ((i*s + j)*C + c); Real-ESRGAN's x2/x1 weights need torch's.
    """
    n, h, w, c = x.shape
    if h % factor or w % factor:
        raise ValueError(f"pixel_unshuffle: height and width ({h}x{w}) must be multiples of {factor}")
    x = x.reshape(n, h // factor, factor, w // factor, factor, c)
    x = x.transpose(0, 1, 3, 5, 2, 4)  # [N, H/s, W/s, C, i, j]
    return x.reshape(n, h // factor, w // factor, c * factor * factor)


def upsample_nearest2x(x: jax.Array) -> jax.Array:
    """Nearest-neighbour x2, equal to torch `F.interpolate(scale_factor=2, mode='nearest')`: [N, 2H, 2W, C]."""
    return upsample_nearest(x, 2)


class ResidualDenseBlock(nn.Module):
    """Five densely connected convs; output `conv5(...) * 0.2 + x`. [N, H, W, F] -> [N, H, W, F].

    Applied through `dense_block.dense_block`, whose backward pass keeps one concatenation per block instead of
    every conv input (the saving is in benchmarks/RESULTS.md); the submodules hold the parameters.
    """

    num_feat: int = 64
    num_grow_ch: int = 32
    dtype: Any = jnp.float32
    winograd: int = 0
    concat_free: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        growth = [self.num_grow_ch] * 4 + [self.num_feat]
        convs = [conv3x3(ch, f"conv{k}", self.dtype, RDB_INIT, self.winograd) for k, ch in enumerate(growth, 1)]
        if self.is_initializing():  # Conv3x3 creates the parameters: BasicSR's names, flax's random streams
            feats = [x]
            for conv in convs[:4]:
                feats.append(leaky_relu(conv(jnp.concatenate(feats, -1))))
            return convs[4](jnp.concatenate(feats, -1)) * 0.2 + x
        params = tuple((conv.variables["params"]["kernel"], conv.variables["params"]["bias"]) for conv in convs)
        if self.winograd:
            return dense_block_winograd(x.astype(self.dtype), params, self.winograd)
        return (dense_block_concat_free if self.concat_free else dense_block)(x.astype(self.dtype), params)


class RRDB(nn.Module):
    """Residual-in-residual dense block: three RDBs, output `out * 0.2 + x`. [N, H, W, F] -> same."""

    num_feat: int = 64
    num_grow_ch: int = 32
    dtype: Any = jnp.float32
    winograd: int = 0
    concat_free: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        fields = (self.num_feat, self.num_grow_ch, self.dtype, self.winograd, self.concat_free)
        out = x
        for j in range(1, 4):
            out = ResidualDenseBlock(*fields, name=f"rdb{j}")(out)
        return out * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN generator. [N, H, W, num_in_ch] in [0, 1] -> [N, 4H, 4W, num_out_ch] (not clamped).

    Attributes:
      scale: 4, 2 or 1. Scales 2 and 1 pixel-unshuffle the input (factor 2 or 4) before `conv_first`, as
        Real-ESRGAN's x2plus model does, so H and W must then be multiples of 4 // scale.
      num_feat: trunk width (64 in ESRGAN).
      num_block: number of RRDBs in the trunk (23 in ESRGAN, 6 in the anime model).
      num_grow_ch: growth channels of the dense blocks (32).
      dtype: compute dtype (bfloat16 on GPUs); parameters stay float32.
      remat: recompute each RRDB's activations in the backward pass instead of storing them (`nn.remat`), for
        less training memory at ~1/3 more forward compute; no effect on outputs or parameter names. XLA:CPU
        (jaxlib 0.10.2) undoes it (it drops the optimisation barriers and CSE merges the recomputation back;
        benchmarks/RESULTS.md), so it only saves memory on GPU/TPU.
      winograd: 0 (direct convolutions), or m = 2, 4, 6: the trunk's convs as Winograd F(m, 3), for inference, on
        parameters converted once by `winograd_params`. The head and the upsampling tail stay direct: run at up to
        16x the trunk's pixels, their transforms cost more than they save (benchmarks/RESULTS.md).
      concat_free: run the dense blocks without concatenations (`dense_block.dense_block_concat_free`); the same
        parameters and outputs up to float rounding.
    """

    num_in_ch: int = 3
    num_out_ch: int = 3
    scale: int = 4
    num_feat: int = 64
    num_block: int = 23
    num_grow_ch: int = 32
    dtype: Any = jnp.float32
    remat: bool = False
    winograd: int = 0
    concat_free: bool = False

    pre_upsample = False  # the generator interface (with SRCNN): takes the LR image itself

    @property
    def in_channels(self) -> int:
        """Image channels the network takes (3 for RGB, 1 for a luminance model)."""
        return self.num_in_ch

    @property
    def input_multiple(self) -> int:
        """What input height and width must be multiples of: the pixel-unshuffle factor of x2/x1 models."""
        return 4 // self.scale

    @property
    def tile_multiple(self) -> int:
        """What tile origins and sizes are multiples of: the input multiple."""
        return self.input_multiple

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.scale not in (1, 2, 4):
            raise ValueError(f"RRDBNet: scale must be 1, 2 or 4, got {self.scale}")
        if self.scale < 4:
            x = pixel_unshuffle(x, 4 // self.scale)
        x = x.astype(self.dtype)
        feat = conv3x3(self.num_feat, "conv_first", self.dtype)(x)
        body = feat
        block = nn.remat(RRDB) if self.remat else RRDB  # same submodule names either way
        fields = (self.num_feat, self.num_grow_ch, self.dtype, self.winograd, self.concat_free)
        for i in range(self.num_block):
            body = block(*fields, name=f"body_{i}")(body)
        feat = feat + conv3x3(self.num_feat, "conv_body", self.dtype)(body)
        feat = leaky_relu(conv3x3(self.num_feat, "conv_up1", self.dtype)(upsample_nearest2x(feat)))
        feat = leaky_relu(conv3x3(self.num_feat, "conv_up2", self.dtype)(upsample_nearest2x(feat)))
        feat = leaky_relu(conv3x3(self.num_feat, "conv_hr", self.dtype)(feat))
        out = conv3x3(self.num_out_ch, "conv_last", self.dtype)(feat)
        return out.astype(jnp.float32)

    def init_params(self, rng: jax.Array, size: int = 8) -> dict:
        """Random parameters without compiling the whole model (`jax.jit(init)` takes ~35 s at nb=23).

        Parameter shapes do not depend on the spatial size, so a tiny input is enough.
        """
        side = size * (4 // self.scale)
        return self.init(rng, jnp.zeros((1, side, side, self.num_in_ch), jnp.float32))["params"]

    def winograd_params(self, params: dict) -> dict:
        """`params` in the form this module's Winograd path takes (m = `self.winograd`): the trunk's kernels in
        F(m, 3) form (`winograd.prepare_params`), the head's and the tail's unchanged."""
        return {k: winograd.prepare_params(v, self.winograd) if k.startswith("body_") else v for k, v in params.items()}
