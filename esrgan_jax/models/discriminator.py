"""VGG-style discriminator of ESRGAN (BasicSR `VGGStyleDiscriminator`), in flax.linen.

Two details make converted PyTorch weights give identical logits: the 4x4 stride-2 convs pad explicitly by
((1, 1), (1, 1)) (flax 'SAME' pads (1, 2) on odd sizes), and features are flattened in NCHW order before
`linear1`, as `view(N, -1)` does in PyTorch.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.models.layers import TORCH_INIT, leaky_relu


class TorchBatchNorm(nn.Module):
    """BatchNorm2d with PyTorch's exact semantics on NHWC input.

    flax's BatchNorm stores the biased batch variance in its running statistics; PyTorch stores the unbiased
    one. Converted discriminators must keep training from PyTorch's running stats, so this follows PyTorch:
    momentum 0.1 (flax 0.9), eps 1e-5, normalise with the biased variance, track the unbiased one.
    """

    momentum: float = 0.1
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        c = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (c,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (c,), jnp.float32)
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((c,), jnp.float32))
        ra_var = self.variable("batch_stats", "var", lambda: jnp.ones((c,), jnp.float32))
        if train:
            xf = x.astype(jnp.float32)
            mean = xf.mean(axis=(0, 1, 2))
            var = jnp.square(xf - mean).mean(axis=(0, 1, 2))
            n = x.size // c
            if not self.is_initializing():
                ra_mean.value = (1 - self.momentum) * ra_mean.value + self.momentum * mean
                unbiased = var * n / max(n - 1, 1)
                ra_var.value = (1 - self.momentum) * ra_var.value + self.momentum * unbiased
        else:
            mean, var = ra_mean.value, ra_var.value
        y = (x - mean.astype(x.dtype)) * jax.lax.rsqrt(var + self.epsilon).astype(x.dtype)
        return y * scale.astype(x.dtype) + bias.astype(x.dtype)


class VGGStyleDiscriminator(nn.Module):
    """[N, S, S, num_in_ch] with S = input_size (128 or 256) -> logits [N, 1].

    Attributes:
      num_in_ch: input channels (3).
      num_feat: width of the first stage (64); stages use 1, 2, 4, 8, 8 (, 8) times this.
      input_size: 128 or 256; 256 adds the conv5_0/conv5_1 stage.
      dtype: compute dtype; parameters and BN statistics stay float32.
    """

    num_in_ch: int = 3
    num_feat: int = 64
    input_size: int = 128
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        if self.input_size not in (128, 256):
            raise ValueError(f"VGGStyleDiscriminator: input_size must be 128 or 256, got {self.input_size}")
        if x.shape[1:3] != (self.input_size, self.input_size):
            raise ValueError(
                f"VGGStyleDiscriminator: input must be {self.input_size}x{self.input_size}, got "
                f"{x.shape[1]}x{x.shape[2]}"
            )
        nf = self.num_feat

        def conv(feat, k, name, bias=False):
            stride, pad = (2, ((1, 1), (1, 1))) if k == 4 else (1, "SAME")
            return nn.Conv(
                feat, (k, k), stride, pad, use_bias=bias, kernel_init=TORCH_INIT, dtype=self.dtype, name=name
            )

        x = leaky_relu(conv(nf, 3, "conv0_0", bias=True)(x.astype(self.dtype)))
        x = leaky_relu(TorchBatchNorm(name="bn0_1")(conv(nf, 4, "conv0_1")(x), train))  # spatial /2
        widths = [nf * 2, nf * 4, nf * 8, nf * 8] + ([nf * 8] if self.input_size == 256 else [])
        for stage, width in enumerate(widths, start=1):
            x = leaky_relu(TorchBatchNorm(name=f"bn{stage}_0")(conv(width, 3, f"conv{stage}_0")(x), train))
            x = leaky_relu(TorchBatchNorm(name=f"bn{stage}_1")(conv(width, 4, f"conv{stage}_1")(x), train))
        # [N, 4, 4, C] -> [N, C, 4, 4] -> [N, C*16]: PyTorch's flatten order, so linear1 needs no permutation.
        x = x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1).astype(jnp.float32)
        x = leaky_relu(nn.Dense(100, kernel_init=TORCH_INIT, name="linear1")(x))
        return nn.Dense(1, kernel_init=TORCH_INIT, name="linear2")(x)
