"""ESRGAN's residual dense block as a function with a hand-written backward pass that stores 1/4 of the activations.

Forward (the paper's RDB, equal to BasicSR's): `f_k = lrelu(conv_k(cat(x, f_1, ..., f_{k-1})))` for k = 1..4,
output `conv_5(cat(x, f_1, ..., f_4)) * 0.2 + x`. [N, H, W, F] -> [N, H, W, F].

Why a custom VJP: autodiff keeps every conv's input for its weight gradient - the four concatenations
(F+G, F+2G, F+3G, F+4G channels) and the pre-activations - and XLA:CPU (jaxlib 0.10.2) goes further: it
transposes each of those inputs for the weight-gradient convolution right after the forward conv, so all of
them are held, transposed, from the forward until the backward reaches the block (the peak live set of the
ESRGAN train step, `--xla_dump_to` live ranges: 640 transposed channels + 128 pre-activation channels per
block). Everything the backward needs is in the last concatenation alone (F+4G channels): conv k's input is
its first F+(k-1)G channels, and LeakyReLU's derivative follows from the sign of its output (slope 0.2 > 0
keeps the sign). So the forward saves only that one tensor, and the backward slices it.

The backward makes its slices depend on the incoming gradient (a zero computed from it) so that XLA cannot
schedule them - and their transposes - back into the forward pass; an `optimization_barrier` would say this
more directly, but XLA:CPU removes barriers before scheduling. The memory and speed this saves are in
benchmarks/RESULTS.md. Forward-mode differentiation (`jax.jvp`) is not defined through a custom VJP.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from esrgan_jax.models import winograd
from esrgan_jax.models.layers import NEGATIVE_SLOPE

RESIDUAL_SCALE = 0.2  # the block's output is conv5(...) * 0.2 + x

# Five (kernel [3, 3, Cin, Cout], bias [Cout]) pairs: conv1..conv4 grow by G channels, conv5 maps back to F.
Params = tuple[tuple[jax.Array, jax.Array], ...]


def _conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """3x3 stride-1 'SAME' convolution without bias, NHWC x HWIO, as flax.linen.Conv computes it."""
    return lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _forward(x: jax.Array, params: Params, m: int = 0) -> tuple[jax.Array, jax.Array]:
    """(block output, cat(x, f_1, ..., f_4)) in x's dtype; parameters are cast to it, as flax's `dtype=` does.
    With `m`, the convs are Winograd F(m, 3) and the kernels in its form (`winograd.prepare_params`)."""
    conv = functools.partial(winograd.conv3x3, m=m) if m else _conv
    feats = x
    for kernel, bias in params[:4]:
        y = conv(feats, kernel.astype(x.dtype)) + bias.astype(x.dtype)
        feats = jnp.concatenate([feats, jnp.where(y >= 0, y, NEGATIVE_SLOPE * y)], -1)
    kernel, bias = params[4]
    x5 = conv(feats, kernel.astype(x.dtype)) + bias.astype(x.dtype)
    return x5 * RESIDUAL_SCALE + x, feats


def _forward_concat_free(x: jax.Array, params: Params) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    """(block output, (x, f_1, ..., f_4)) without concatenating: a conv over cat(x, f_1, ..., f_k) is the sum of
    convs over each part, so each feature map is convolved once, by the kernel slices of every later conv side by
    side (one wider conv), and the later convs' outputs add up from these partial sums."""
    dtype = x.dtype
    grow, num_feat = params[0][0].shape[-1], x.shape[-1]
    widths = [grow] * 4 + [num_feat]  # output channels of conv1..conv5
    partial: list[Any] = [bias.astype(dtype) for _, bias in params]
    parts = [x]
    for j in range(5):  # part j (x, then f_j) feeds conv j+1..conv5
        start, width = (0, num_feat) if j == 0 else (num_feat + grow * (j - 1), grow)
        kernel = jnp.concatenate([params[k][0][:, :, start : start + width] for k in range(j, 5)], -1)
        y = _conv(parts[j], kernel.astype(dtype))
        offsets = np.cumsum([0, *widths[j:]])
        for k in range(j, 5):
            partial[k] = partial[k] + y[..., offsets[k - j] : offsets[k - j + 1]]
        if j < 4:
            parts.append(jnp.where(partial[j] >= 0, partial[j], NEGATIVE_SLOPE * partial[j]))
    return partial[4] * RESIDUAL_SCALE + x, tuple(parts)


def dense_block_winograd(x: jax.Array, params: Params, m: int) -> jax.Array:
    """The block's output through Winograd F(m, 3) convs, kernels in Winograd form; for inference (it has no
    memory-saving backward pass)."""
    return _forward(x, params, m)[0]


@jax.custom_vjp
def dense_block(x: jax.Array, params: Params) -> jax.Array:
    """The residual dense block on `x` [N, H, W, F] with `params` (see `Params`); returns [N, H, W, F]."""
    return _forward(x, params)[0]


def _dense_block_fwd(x: jax.Array, params: Params) -> tuple[jax.Array, tuple[jax.Array, Params]]:
    out, feats = _forward(x, params)
    return out, (feats, params)


def _conv_vjp(inputs: jax.Array, kernel: jax.Array, grad_out: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(d inputs, d kernel) of `_conv(inputs, kernel)` for the output cotangent `grad_out`."""
    _, vjp = jax.vjp(_conv, inputs, kernel)  # the primal conv it also builds is unused, and XLA drops it
    return vjp(grad_out)


def _dense_block_bwd(saved: tuple[jax.Array, Params], grad: jax.Array) -> tuple[jax.Array, Params]:
    feats, params = saved
    # Always 0 (and never NaN), but XLA cannot know that: the slices below now wait for this block's gradient.
    g0 = grad[..., :1]
    feats = feats + jnp.where(jnp.isfinite(g0), g0 * 0.0, 0.0)
    grow = params[0][0].shape[-1]
    num_feat = feats.shape[-1] - 4 * grow

    def param_grads(k: int, grad_y: jax.Array, d_kernel: jax.Array) -> tuple[jax.Array, jax.Array]:
        kernel, bias = params[k]
        return d_kernel.astype(kernel.dtype), grad_y.sum((0, 1, 2)).astype(bias.dtype)

    grads: list[Any] = [None] * 5
    grad_y = grad * RESIDUAL_SCALE
    d_feats, d_kernel = _conv_vjp(feats, params[4][0].astype(feats.dtype), grad_y)
    grads[4] = param_grads(4, grad_y, d_kernel)
    for k in (3, 2, 1, 0):
        width = num_feat + grow * k  # conv k+1's input: the first `width` channels of the concatenation
        f = feats[..., width : width + grow]
        d_f = d_feats[..., width : width + grow]
        grad_y = jnp.where(f >= 0, d_f, NEGATIVE_SLOPE * d_f)
        d_in, d_kernel = _conv_vjp(feats[..., :width], params[k][0].astype(feats.dtype), grad_y)
        grads[k] = param_grads(k, grad_y, d_kernel)
        d_feats = d_feats[..., :width] + d_in
    return d_feats + grad, tuple(grads)


dense_block.defvjp(_dense_block_fwd, _dense_block_bwd)


@jax.custom_vjp
def dense_block_concat_free(x: jax.Array, params: Params) -> jax.Array:
    """`dense_block` computed without concatenations (`_forward_concat_free`); the same backward pass, which
    concatenates the saved feature maps once."""
    return _forward_concat_free(x, params)[0]


def _concat_free_fwd(x: jax.Array, params: Params) -> tuple[jax.Array, tuple[tuple[jax.Array, ...], Params]]:
    out, parts = _forward_concat_free(x, params)
    return out, (parts, params)


def _concat_free_bwd(saved: tuple[tuple[jax.Array, ...], Params], grad: jax.Array) -> tuple[jax.Array, Params]:
    parts, params = saved
    return _dense_block_bwd((jnp.concatenate(parts, -1), params), grad)


dense_block_concat_free.defvjp(_concat_free_fwd, _concat_free_bwd)
