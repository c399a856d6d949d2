"""SwinIR (Liang et al. 2021), image restoration with a Swin transformer, in flax.linen.

The input is reflect-padded at the bottom and right to a multiple of the window size, shifted by the DIV2K mean
(RGB) and scaled by `img_range`. A 3x3 conv embeds it (`conv_first`); the residual Swin transformer blocks
(`layers_{i}`, blocks.RSTB) and a LayerNorm (`norm`) with a conv after them (`conv_after_body`) refine the
features, added back to the embedding; one of the official reconstructions makes the output, which is cropped to
`scale` times the input's size:
- "pixelshuffle" (classical SR): conv + LeakyReLU 0.01, (conv + PixelShuffle 2) per factor 2 or one x3, conv;
- "pixelshuffledirect" (lightweight SR): one conv + PixelShuffle by `scale`;
- "nearest+conv" (real-world SR): conv + LeakyReLU 0.01, (nearest x2 + conv + LeakyReLU 0.2) per factor 2, two convs;
- "" (x1 restoration): the input plus a conv of the features.
Submodule names are the official state-dict keys with `.` before a list index written as `_`.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.architectures.swinir.blocks import RSTB, layer_norm, residual_conv
from esrgan_jax.models.layers import conv3x3, pixel_shuffle, upsample_nearest

RGB_MEAN = (0.4488, 0.4371, 0.4040)  # DIV2K's mean, subtracted from 3-channel inputs (0 for 1 channel)
NUM_FEAT = 64  # the official reconstruction width (fixed in the official code)
# upsampler -> the scales it can make
UPSAMPLERS = {"pixelshuffle": (2, 3, 4), "pixelshuffledirect": (1, 2, 3, 4), "nearest+conv": (2, 4), "": (1,)}
# The default tile keeps one float32 forward of a window (tile + 2 x tile_pad a side) under this much host memory.
MEMORY_BUDGET_MIB = 4096
TILES = (512, 384, 256, 128)  # the default tile's candidates, largest first
TILE_PAD = 32  # the default overlap: the official main_test_swinir.py's tile_overlap
# Peak host memory of a forward ~ RUNTIME_MIB + pixels x 4 bytes x (ACTIVATIONS x embed_dim + SCORES x window**2 x
# heads): the embed_dim-wide activations and copies of one block's attention scores that XLA:CPU keeps alive at
# once, fitted to the peaks of benchmarks/results/swinir_memory_2026-12-05.json (within -2% and +23% of each).
RUNTIME_MIB, ACTIVATIONS, SCORES = 480, 25, 4.3


class PatchEmbed(nn.Module):
    """The official PatchEmbed at patch size 1: only its LayerNorm (`patch_embed.norm`). [..., C] -> same."""

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return layer_norm("norm", self.dtype)(x)


class SwinIR(nn.Module):
    """[N, H, W, in_chans] in [0, 1] -> [N, scale*H, scale*W, in_chans] (not clamped); any H, W >= 1.

    Attributes:
      in_chans: image channels in and out (3, or 1 for gray models).
      embed_dim: width of the transformer (60 lightweight, 180 classical and real-world).
      depths: Swin blocks per RSTB (4 x 6 lightweight, 6 x 6 classical).
      num_heads: attention heads per RSTB, one entry per depth.
      window_size: attention window side (8 for SR; 7 in the JPEG models).
      mlp_ratio: MLP hidden width / embed_dim (2).
      upsampler: "pixelshuffle", "pixelshuffledirect", "nearest+conv" or "" (see the module docstring).
      resi_connection: "1conv" or "3conv", the conv after each RSTB and after the body.
      scale: upscale factor (see UPSAMPLERS for what each upsampler makes).
      img_range: 1.0, or 255.0 for the JPEG models.
      num_feat: width of the "pixelshuffle" and "nearest+conv" reconstructions.
      img_size: the training patch size of the checkpoint. The network takes any size; only the shape of the
        exported `attn_mask` buffers, from which spandrel reads it back, depends on it.
      dtype: compute dtype; parameters stay float32.
    """

    in_chans: int = 3
    embed_dim: int = 60
    depths: tuple[int, ...] = (6, 6, 6, 6)
    num_heads: tuple[int, ...] = (6, 6, 6, 6)
    window_size: int = 8
    mlp_ratio: float = 2.0
    upsampler: str = "pixelshuffledirect"
    resi_connection: str = "1conv"
    scale: int = 4
    img_range: float = 1.0
    num_feat: int = NUM_FEAT
    img_size: int = 64
    dtype: Any = jnp.float32

    pre_upsample = False  # the generator interface: takes the LR image itself
    input_multiple = 1  # any size: the network pads to its window itself

    @property
    def in_channels(self) -> int:
        """Image channels the network takes."""
        return self.in_chans

    def forward_mib(self, side: int) -> float:
        """Estimated peak host memory (MiB) of one float32 forward of a side x side input."""
        per_pixel = 4 * (ACTIVATIONS * self.embed_dim + SCORES * self.window_size**2 * max(self.num_heads))
        return RUNTIME_MIB + side * side * per_pixel / 2**20

    @property
    def default_tile(self) -> int:
        """`Upscaler`'s tile unless told: the largest of TILES whose window (with the default pad) keeps a forward
        under MEMORY_BUDGET_MIB (lightweight x4: 384; classical x4: 256)."""
        return next((t for t in TILES if self.forward_mib(t + 2 * TILE_PAD) <= MEMORY_BUDGET_MIB), TILES[-1])

    @property
    def default_tile_pad(self) -> int:
        """`Upscaler`'s overlap unless told (see TILE_PAD)."""
        return TILE_PAD

    @property
    def tile_multiple(self) -> int:
        """Tiles start on multiples of the window, so a tile's windows are windows of the whole image."""
        return self.window_size

    def check(self) -> None:
        """A ValueError for hyper-parameters the official SwinIR cannot have."""
        if self.upsampler not in UPSAMPLERS:
            raise ValueError(f"SwinIR: upsampler must be one of {sorted(UPSAMPLERS)}, got {self.upsampler!r}")
        if self.scale not in UPSAMPLERS[self.upsampler]:
            raise ValueError(
                f"SwinIR: upsampler {self.upsampler!r} makes scales {UPSAMPLERS[self.upsampler]}, not {self.scale}"
            )
        if len(self.depths) != len(self.num_heads) or self.resi_connection not in ("1conv", "3conv"):
            raise ValueError(
                f"SwinIR: depths {self.depths} and num_heads {self.num_heads} must have equal lengths and "
                f"resi_connection ({self.resi_connection!r}) be '1conv' or '3conv'"
            )
        if self.img_size <= self.window_size:
            raise ValueError(f"SwinIR: img_size {self.img_size} must exceed window_size {self.window_size}")

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        self.check()
        n, h, w, c = x.shape
        ws, dt = self.window_size, self.dtype
        x = jnp.pad(x, ((0, 0), (0, -h % ws), (0, -w % ws), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
        mean = jnp.asarray(RGB_MEAN if c == 3 else (0.0,) * c, jnp.float32)
        x = ((x - mean) * self.img_range).astype(dt)
        first = conv3x3(self.embed_dim, "conv_first", dt)(x)
        feat = PatchEmbed(dt, name="patch_embed")(first)
        for i, (depth, heads) in enumerate(zip(self.depths, self.num_heads, strict=True)):
            feat = RSTB(depth, heads, ws, self.mlp_ratio, self.resi_connection, dt, name=f"layers_{i}")(feat)
        feat = layer_norm("norm", dt)(feat)
        feat = residual_conv(feat, self.embed_dim, self.resi_connection, "conv_after_body", dt) + first
        out = self.reconstruct(feat, x)
        out = out.astype(jnp.float32) / self.img_range + mean
        return out[:, : h * self.scale, : w * self.scale]

    def reconstruct(self, feat: jax.Array, x: jax.Array) -> jax.Array:
        """The upsampler: features [N, H, W, embed_dim] (and the normalised input) -> [N, sH, sW, in_chans]."""
        dt, nf, c = self.dtype, self.num_feat, self.in_chans
        if self.upsampler == "pixelshuffledirect":
            return pixel_shuffle(conv3x3(self.scale**2 * c, "upsample_0", dt)(feat), self.scale)
        if self.upsampler == "":
            return x + conv3x3(c, "conv_last", dt)(feat)
        y = nn.leaky_relu(conv3x3(nf, "conv_before_upsample_0", dt)(feat), 0.01)  # torch's default slope
        if self.upsampler == "pixelshuffle":
            steps = [3] if self.scale == 3 else [2] * (self.scale // 2)  # x4: two x2 steps
            for k, factor in enumerate(steps):
                y = pixel_shuffle(conv3x3(factor**2 * nf, f"upsample_{2 * k}", dt)(y), factor)
            return conv3x3(c, "conv_last", dt)(y)
        for k in range(1, self.scale // 2 + 1):  # nearest+conv: conv_up1 (x2), conv_up2 (x4)
            y = nn.leaky_relu(conv3x3(nf, f"conv_up{k}", dt)(upsample_nearest(y, 2)), 0.2)
        return conv3x3(c, "conv_last", dt)(nn.leaky_relu(conv3x3(nf, "conv_hr", dt)(y), 0.2))

    def init_params(self, rng: jax.Array) -> dict:
        """Random parameters (their shapes do not depend on the input size: one window is enough)."""
        size = self.window_size
        return self.init(rng, jnp.zeros((1, size, size, self.in_chans), jnp.float32))["params"]
