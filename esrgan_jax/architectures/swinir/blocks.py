"""SwinIR's transformer parts in flax.linen: window attention with its relative position bias, the (shifted-)
window Swin block, and the residual Swin transformer block (RSTB) that the network stacks.

Features stay in image layout [N, H, W, C] between blocks (PyTorch's [N, H*W, C] token layout holds the same
numbers in the same order), and H, W are multiples of the window size (the network pads its input). Submodules are
named after the official keys: `residual_group/blocks_{j}/{norm1, attn/{qkv, proj}, norm2, mlp/{fc1, fc2}}` and
the RSTB's `conv` (or `conv_0`, `conv_2`, `conv_4` for resi_connection "3conv"). The two buffers of the PyTorch
model are not variables: the relative position index and the shifted-window mask are numpy constants of the
window size and the input shape (`relative_position_index`, `shifted_window_mask`).
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from esrgan_jax.models.layers import TORCH_INIT, conv3x3

LN_EPS = 1e-5  # PyTorch's nn.LayerNorm default; flax's is 1e-6
MASK_FILL = -100.0  # the official mask value between tokens of different regions of a shifted window
# The official _init_weights: Linear weights trunc_normal(std=0.02), biases 0 (flax's truncation is at 2 std).
DENSE_INIT = nn.initializers.truncated_normal(0.02)


def layer_norm(name: str, dtype: Any) -> nn.LayerNorm:
    return nn.LayerNorm(epsilon=LN_EPS, dtype=dtype, name=name)


def window_partition(x: Any, window: int) -> Any:
    """[B, H, W, C] -> [B * (H/w) * (W/w), w*w, C], windows in row-major order (numpy or jax arrays)."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // window, window, w // window, window, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, c)


def window_reverse(windows: jax.Array, window: int, h: int, w: int) -> jax.Array:
    """The inverse of `window_partition`: [B * nW, w*w, C] -> [B, H, W, C]."""
    c = windows.shape[-1]
    x = windows.reshape(-1, h // window, w // window, window, window, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


@functools.cache
def relative_position_index(window: int) -> np.ndarray:
    """[w*w, w*w] int64: the row of the bias table for each (query, key) pair of a window (the official buffer)."""
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (window - 1)  # [N, N, 2], from 0
    return (rel[..., 0] * (2 * window - 1) + rel[..., 1]).astype(np.int64)


@functools.cache
def shifted_window_mask(h: int, w: int, window: int, shift: int) -> np.ndarray:
    """[nW, w*w, w*w] float32: 0 between tokens of one region of the rolled image, -100 across regions (the
    official `calculate_mask`), so a shifted window never mixes pixels that the roll brought from opposite edges."""
    regions = np.zeros((1, h, w, 1), np.float32)
    bands = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for i, rows in enumerate(bands):
        for j, cols in enumerate(bands):
            regions[:, rows, cols, :] = 3 * i + j
    labels = window_partition(regions, window)[..., 0]  # [nW, N]
    return np.where(labels[:, None, :] != labels[:, :, None], MASK_FILL, 0.0).astype(np.float32)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each window, plus a learned bias per relative offset and head.
    [B*nW, N, C] (N = w*w tokens) -> same; `mask` [nW, N, N] is added to the scores of shifted windows."""

    dim: int
    window_size: int
    num_heads: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, mask: np.ndarray | None) -> jax.Array:
        b, n, c = x.shape
        heads, head_dim = self.num_heads, c // self.num_heads
        # Created first: the official state dict lists the table before qkv and proj.
        table = self.param(
            "relative_position_bias_table", DENSE_INIT, ((2 * self.window_size - 1) ** 2, heads), jnp.float32
        )
        qkv = nn.Dense(3 * c, dtype=self.dtype, kernel_init=DENSE_INIT, name="qkv")(x)
        qkv = qkv.reshape(b, n, 3, heads, head_dim)
        q, k, v = qkv[:, :, 0] * head_dim**-0.5, qkv[:, :, 1], qkv[:, :, 2]  # [B, N, heads, d]
        scores = jnp.einsum("bnhd,bmhd->bhnm", q, k)
        bias = table[relative_position_index(self.window_size).reshape(-1)].reshape(n, n, heads)
        scores = scores + bias.transpose(2, 0, 1)[None].astype(scores.dtype)
        if mask is not None:
            windows = mask.shape[0]
            scores = scores.reshape(b // windows, windows, heads, n, n) + mask[None, :, None].astype(scores.dtype)
            scores = scores.reshape(b, heads, n, n)
        attn = jax.nn.softmax(scores, axis=-1)
        out = jnp.einsum("bhnm,bmhd->bnhd", attn, v).reshape(b, n, c)
        return nn.Dense(c, dtype=self.dtype, kernel_init=DENSE_INIT, name="proj")(out)


class Mlp(nn.Module):
    """fc1 -> exact (erf) GELU -> fc2, as PyTorch's nn.GELU(). [..., C] -> same."""

    hidden: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.Dense(self.hidden, dtype=self.dtype, kernel_init=DENSE_INIT, name="fc1")(x)
        h = nn.gelu(h, approximate=False)
        return nn.Dense(x.shape[-1], dtype=self.dtype, kernel_init=DENSE_INIT, name="fc2")(h)


class SwinTransformerBlock(nn.Module):
    """x + W-MSA(norm1(x)), then + MLP(norm2(.)); windows rolled by `shift` (half a window in odd blocks).
    [B, H, W, C] -> same, with H and W multiples of the window."""

    num_heads: int
    window_size: int
    shift: int
    mlp_ratio: float
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _, h, w, c = x.shape
        ws, s = self.window_size, self.shift
        y = layer_norm("norm1", self.dtype)(x)
        if s:
            y = jnp.roll(y, (-s, -s), axis=(1, 2))
        mask = shifted_window_mask(h, w, ws, s) if s else None
        y = WindowAttention(c, ws, self.num_heads, self.dtype, name="attn")(window_partition(y, ws), mask)
        y = window_reverse(y, ws, h, w)
        if s:
            y = jnp.roll(y, (s, s), axis=(1, 2))
        x = x + y
        return x + Mlp(int(c * self.mlp_ratio), self.dtype, name="mlp")(layer_norm("norm2", self.dtype)(x))


class BasicLayer(nn.Module):
    """`depth` Swin blocks, every second one with shifted windows. [B, H, W, C] -> same."""

    depth: int
    num_heads: int
    window_size: int
    mlp_ratio: float
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for j in range(self.depth):
            shift = self.window_size // 2 if j % 2 else 0
            x = SwinTransformerBlock(
                self.num_heads, self.window_size, shift, self.mlp_ratio, self.dtype, name=f"blocks_{j}"
            )(x)
        return x


class RSTB(nn.Module):
    """Residual Swin transformer block: x + conv(Swin blocks(x)); the conv is one 3x3 ("1conv") or 3x3 to C/4,
    1x1, 3x3 back with LeakyReLU 0.2 between ("3conv"). [B, H, W, C] -> same."""

    depth: int
    num_heads: int
    window_size: int
    mlp_ratio: float
    resi_connection: str
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        ws, dt = self.window_size, self.dtype
        group = BasicLayer(self.depth, self.num_heads, ws, self.mlp_ratio, dt, name="residual_group")
        return x + residual_conv(group(x), x.shape[-1], self.resi_connection, "conv", dt)


def residual_conv(x: jax.Array, features: int, kind: str, name: str, dtype: Any) -> jax.Array:
    """SwinIR's conv after a group of blocks, named `name` ("1conv") or `name_0/2/4` ("3conv")."""
    if kind == "1conv":
        return conv3x3(features, name, dtype)(x)
    y = nn.leaky_relu(conv3x3(features // 4, f"{name}_0", dtype)(x), 0.2)
    y = nn.Conv(features // 4, (1, 1), kernel_init=TORCH_INIT, dtype=dtype, name=f"{name}_2")(y)
    return conv3x3(features, f"{name}_4", dtype)(nn.leaky_relu(y, 0.2))
