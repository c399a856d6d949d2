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

# BasicSR's `default_init_weights(..., 0.1)`: kaiming_normal_ scaled by 0.1 for the dense-block convs, which
# keeps a 23-block BN-free residual trunk stable at the start of training.
_RDB_INIT = nn.initializers.variance_scaling(2.0 * 0.1**2, "fan_in", "normal")
# PyTorch's default Conv2d init (kaiming_uniform with a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
_TORCH_INIT = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def leaky_relu(x: jax.Array) -> jax.Array:
    """LeakyReLU with ESRGAN's slope 0.2 (flax's default is 0.01)."""
    return nn.leaky_relu(x, negative_slope=0.2)


def conv3x3(features: int, name: str, dtype: Any, init=_TORCH_INIT) -> nn.Conv:
    """3x3 stride-1 conv with bias; 'SAME' equals PyTorch's padding=1 here."""
    return nn.Conv(features, (3, 3), padding="SAME", kernel_init=init, dtype=dtype, name=name)


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
    n, h, w, c = x.shape
    x = jnp.broadcast_to(x[:, :, None, :, None, :], (n, h, 2, w, 2, c))
    return x.reshape(n, 2 * h, 2 * w, c)


class _ConvParams(nn.Module):
    """The `kernel` [3, 3, in, out] and `bias` [out] of a 3x3 conv, declared exactly as `nn.Conv` declares them
    (same names, shapes, init and RNG path), but returned instead of applied: the dense block applies them split."""

    in_features: int
    features: int
    kernel_init: Any = _RDB_INIT

    @nn.compact
    def __call__(self) -> tuple[jax.Array, jax.Array]:
        kernel = self.param("kernel", self.kernel_init, (3, 3, self.in_features, self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        return kernel, bias


def _conv_nhwc(x: jax.Array, kernel: jax.Array) -> jax.Array:
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


class ResidualDenseBlock(nn.Module):
    """Five densely connected convs; output `conv5(...) * 0.2 + x`. [N, H, W, F] -> [N, H, W, F].

    Mathematically `conv_k(concat(x, x1, .., x_{k-1}))`, computed without the concatenations: a conv is linear in
    its input channels, so it equals the sum over the inputs of a conv with that input's slice of the kernel. Each
    feature is convolved ONCE with the slices of every later conv that reads it (stacked on the output axis), and
    conv k sums its slices of those partial results. Why: XLA:CPU lowers each `concatenate` to a separate copy
    kernel (4 per block, 576 channels copied), and autodiff keeps the concatenated tensors as residuals for the
    backward pass; the split form keeps only x, x1..x4 (192 channels). Measured (benchmarks/RESULTS.md): the
    train step's XLA temp memory at batch 1, LR 64x64 halves (957 -> 474 MB without remat); forward speed is
    unchanged. Same FLOPs; parameters keep BasicSR's shapes (`conv{k}/kernel` [3, 3, F + (k-1)G, G or F]),
    split at apply time; float32 results differ from the concat form by summation order only (~1e-7 per block).
    """

    num_feat: int = 64
    num_grow_ch: int = 32
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        nf, gc = self.num_feat, self.num_grow_ch
        convs = [_ConvParams(nf + (k - 1) * gc, gc if k < 5 else nf, name=f"conv{k}")() for k in range(1, 6)]
        # Input j of the block is x (j = 0, nf channels) or x_j (gc channels), at channel offset `starts[j]` of
        # BasicSR's concatenation; conv k reads inputs 0..k-1.
        starts = [0] + [nf + i * gc for i in range(4)]
        widths = [nf] + [gc] * 4
        partials: list[jax.Array] = []  # partials[j]: input j convolved with every later conv's slice of kernel
        feat = x
        for k in range(1, 6):
            j = k - 1  # the input that became available last
            stacked = jnp.concatenate([kern[:, :, starts[j] : starts[j] + widths[j]] for kern, _ in convs[j:]], -1)
            partials.append(_conv_nhwc(feat, stacked.astype(self.dtype)))
            # partials[i] holds the outputs of convs i+1..5 in order; conv k's slice starts after convs i+1..k-1.
            out = convs[k - 1][1].astype(self.dtype)
            for i, part in enumerate(partials):
                out = out + part[..., (k - 1 - i) * gc : (k - 1 - i) * gc + (gc if k < 5 else nf)]
            if k < 5:
                feat = leaky_relu(out)
        return out * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three RDBs, output `out * 0.2 + x`. [N, H, W, F] -> same."""

    num_feat: int = 64
    num_grow_ch: int = 32
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        out = x
        for j in range(1, 4):
            out = ResidualDenseBlock(self.num_feat, self.num_grow_ch, self.dtype, name=f"rdb{j}")(out)
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
      remat: recompute each RRDB's activations in the backward pass instead of storing them
        (`jax.checkpoint` on the scanned block): more compute for much less activation memory in training;
        no effect on outputs, parameter names or inference.
    """

    num_in_ch: int = 3
    num_out_ch: int = 3
    scale: int = 4
    num_feat: int = 64
    num_block: int = 23
    num_grow_ch: int = 32
    dtype: Any = jnp.float32
    remat: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.scale not in (1, 2, 4):
            raise ValueError(f"RRDBNet: scale must be 1, 2 or 4, got {self.scale}")
        if self.scale < 4:
            x = pixel_unshuffle(x, 4 // self.scale)
        x = x.astype(self.dtype)
        feat = conv3x3(self.num_feat, "conv_first", self.dtype)(x)
        feat = feat + conv3x3(self.num_feat, "conv_body", self.dtype)(self._trunk(feat))
        feat = leaky_relu(conv3x3(self.num_feat, "conv_up1", self.dtype)(upsample_nearest2x(feat)))
        feat = leaky_relu(conv3x3(self.num_feat, "conv_up2", self.dtype)(upsample_nearest2x(feat)))
        feat = leaky_relu(conv3x3(self.num_feat, "conv_hr", self.dtype)(feat))
        out = conv3x3(self.num_out_ch, "conv_last", self.dtype)(feat)
        return out.astype(jnp.float32)

    def _trunk(self, feat: jax.Array) -> jax.Array:
        """The 23 RRDBs `body_0..body_{n-1}`: a Python loop while initialising (flax creates the parameters under
        their BasicSR-style names), a `lax.scan` over the stacked block parameters when applying.

        Why a scan: XLA compiles ONE block instead of 23 copies (full-model compile ~5x faster, also for the
        train step), and `remat` only works inside a loop on XLA:CPU: the CPU pipeline drops the optimisation
        barriers that `jax.checkpoint` relies on and CSE then merges the recomputed forward back into the stored
        one (measured: identical temp memory with and without nn.remat on an unrolled trunk). Stacking the
        per-block parameters costs one copy of them (~66 MB at nb=23) per call.
        """
        if self.is_initializing() or self.num_block == 0:
            for i in range(self.num_block):
                feat = RRDB(self.num_feat, self.num_grow_ch, self.dtype, name=f"body_{i}")(feat)
            return feat
        blocks = [self.variables["params"][f"body_{i}"] for i in range(self.num_block)]
        stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *blocks)
        block = RRDB(self.num_feat, self.num_grow_ch, self.dtype, parent=None)  # unbound: applied as a function

        def step(x: jax.Array, block_params: dict) -> tuple[jax.Array, None]:
            return block.apply({"params": block_params}, x), None

        if self.remat:
            step = jax.checkpoint(step)  # keep only each block's input for the backward pass
        return jax.lax.scan(step, feat, stacked)[0]

    def init_params(self, rng: jax.Array, size: int = 8) -> dict:
        """Random parameters without compiling the whole model (`jax.jit(init)` takes ~35 s at nb=23).

        Parameter shapes do not depend on the spatial size, so a tiny input is enough.
        """
        side = size * (4 // self.scale)
        return self.init(rng, jnp.zeros((1, side, side, self.num_in_ch), jnp.float32))["params"]
