"""Winograd minimal filtering F(m, 3) for 3x3 stride-1 'SAME' convolutions, NHWC, in JAX.

A 3x3 convolution over m x m output pixels costs 9 m^2 multiplies per input-output channel pair done directly,
and (m + 2)^2 through Winograd's transform (Lavin and Gray 2016): every input tile of (m + 2)^2 pixels is
transformed (`B^T d B`), multiplied with the transformed kernel (`G g G^T`, done once per model) in one batched
matrix product per transform position over the channels, and transformed back (`A^T M A`). F(2, 3) does 2.25x
fewer multiplies, F(4, 3) 4x, F(6, 3) 5.1x; the transforms are additions with small constants over strided
slices, and they make the tiles (m + 2)^2 / m^2 times larger. Larger m loses float32 accuracy (the transforms'
constants grow). Whether this is faster than a direct convolution depends on the backend: see
`esrgan_jax.inference.conv_path`.

The transform matrices come from the Cook-Toom construction on the interpolation points in `POINTS` (with the
point at infinity): `A^T` and `G` are written down, and `B^T` solves `A^T [(G g) * (B^T d)] = correlate(d, g)`
exactly in float64 (checked to 1e-12 when built).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

POINTS = {2: (0, 1, -1), 4: (0, 1, -1, 2, -2), 6: (0, 1, -1, 2, -2, 0.5, -0.5)}


@functools.cache
def matrices(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A^T [m, a], G [a, 3], B^T [a, a]) of F(m, 3), a = m + 2, float64."""
    points = np.array(POINTS[m], np.float64)
    a = m + 2
    at = np.zeros((m, a))
    at[:, : a - 1] = points[None, :] ** np.arange(m)[:, None]
    at[m - 1, a - 1] = 1.0
    scale = np.array([np.prod([p - q for q in points if q != p]) for p in points])
    g = np.zeros((a, 3))
    g[: a - 1] = points[:, None] ** np.arange(3)[None, :] / scale[:, None]
    g[a - 1, 2] = 1.0
    # Unknown B^T[j, l]: for every output i, tap k and input l, sum_j AT[i,j] G[j,k] BT[j,l] = [l == i + k].
    rows = np.einsum("ij,jk->ikj", at, g).reshape(m * 3, a)
    target = np.zeros((m * 3, a))
    for i in range(m):
        for k in range(3):
            target[i * 3 + k, i + k] = 1.0
    bt = np.linalg.lstsq(rows, target, rcond=None)[0]
    if np.abs(rows @ bt - target).max() > 1e-12:
        raise AssertionError(f"Winograd F({m}, 3): no exact input transform")
    return at, g, bt


def transform_kernel(kernel: jax.Array, m: int) -> jax.Array:
    """HWIO kernel [3, 3, Cin, Cout] -> its Winograd form `G g G^T` [a, a, Cin, Cout], in the kernel's dtype."""
    g = jnp.asarray(matrices(m)[1], jnp.float32)
    out = jnp.einsum("ak,bl,klio->abio", g, g, kernel.astype(jnp.float32), precision=lax.Precision.HIGHEST)
    return out.astype(kernel.dtype)


def _combine(parts: list[jax.Array], coefficients: np.ndarray) -> jax.Array:
    """sum_j coefficients[j] * parts[j], skipping zeros and multiplying by +-1 as additions."""
    total = None
    for c, part in zip(coefficients, parts, strict=True):
        if c == 0:
            continue
        term = part if c == 1 else -part if c == -1 else part * np.float32(c)
        total = term if total is None else total + term
    return total if total is not None else jnp.zeros_like(parts[0])


def transform_input(x: jax.Array, m: int) -> tuple[jax.Array, tuple[int, int]]:
    """[N, H, W, C] -> its transformed tiles [a, a, N, tH, tW, C] and the tile grid (tH, tW), for 'SAME' padding."""
    bt = matrices(m)[2]
    h, w = x.shape[1:3]
    a = m + 2
    th, tw = -(-h // m), -(-w // m)
    x = jnp.pad(x, ((0, 0), (1, th * m + 1 - h), (1, tw * m + 1 - w), (0, 0)))
    rows = [x[:, i : i + (th - 1) * m + 1 : m] for i in range(a)]  # a x [N, tH, Wp, C]
    rows = [_combine(rows, bt[alpha]) for alpha in range(a)]
    out = []
    for r in rows:
        cols = [r[:, :, j : j + (tw - 1) * m + 1 : m] for j in range(a)]  # a x [N, tH, tW, C]
        out.append(jnp.stack([_combine(cols, bt[beta]) for beta in range(a)]))
    return jnp.stack(out), (th, tw)


def transform_output(prod: jax.Array, m: int, size: tuple[int, int]) -> jax.Array:
    """Products [a, a, N, tH, tW, K] -> the convolution [N, H, W, K] cropped to `size` (H, W)."""
    at = matrices(m)[0]
    a, _, n, th, tw, k = prod.shape
    rows = [_combine([prod[alpha, beta] for alpha in range(a)], at[r]) for r in range(m) for beta in range(a)]
    rows = [rows[r * a : (r + 1) * a] for r in range(m)]  # [r][beta] -> [N, tH, tW, K]
    out = jnp.stack([jnp.stack([_combine(rows[r], at[s]) for s in range(m)], 3) for r in range(m)], 2)
    # out: [N, tH, m(r), tW, m(s), K]
    return out.reshape(n, th * m, tw * m, k)[:, : size[0], : size[1]]


def multiply(tiles: jax.Array, kernel_t: jax.Array) -> jax.Array:
    """Transformed tiles [a, a, N, tH, tW, C] x transformed kernel [a, a, C, K] -> [a, a, N, tH, tW, K]."""
    return jnp.einsum("abnhwc,abck->abnhwk", tiles, kernel_t.astype(tiles.dtype))


def conv3x3(x: jax.Array, kernel_t: jax.Array, m: int) -> jax.Array:
    """3x3 stride-1 'SAME' convolution (no bias) of x [N, H, W, C] by a kernel already in Winograd form."""
    # The scopes name the three steps in the compiled program, so a profile can tell them apart.
    with jax.named_scope("winograd_input"):
        tiles, _ = transform_input(x, m)
    with jax.named_scope("winograd_product"):
        prod = multiply(tiles, kernel_t)
    with jax.named_scope("winograd_output"):
        return transform_output(prod, m, x.shape[1:3])


def prepare_params(params: Any, m: int) -> Any:
    """A parameter tree with every 3x3 conv kernel ([3, 3, Cin, Cout]) in F(m, 3) Winograd form; other leaves
    unchanged. A model's `winograd_params` applies it to the convs that take its Winograd path."""

    def convert(leaf: jax.Array) -> jax.Array:
        return transform_kernel(leaf, m) if leaf.ndim == 4 and leaf.shape[:2] == (3, 3) else leaf

    return jax.tree.map(convert, params)
