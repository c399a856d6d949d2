"""MATLAB-compatible bicubic `imresize` (antialiased on downscale), bit-exact on uint8.

The standard SR benchmarks' LR files are MATLAB `imresize(HR, 1/4)` outputs. Reproducing them exactly takes
every MATLAB detail: the a = -0.5 cubic kernel stretched by 1/scale when shrinking (antialiasing), output pixel
centres at u = x/scale + 0.5 (1 - 1/scale), mirrored borders, the dimension with the smaller scale resized first
(rows on ties), and for integer images the intermediate result rounded half away from zero and clipped to the
integer range between the two passes. Each pass gathers the few taps per output pixel with
precomputed index/weight tables, so a 481x321 image takes a few milliseconds.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


@lru_cache(maxsize=64)
def resize_taps(in_len: int, out_len: int, scale: float, antialias: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The taps of one MATLAB bicubic pass along one axis.

    Args:
      in_len: input length along the axis.
      out_len: output length.
      scale: out/in scale factor MATLAB uses for the coordinate map (it need not equal out_len / in_len).
      antialias: widen the kernel by 1/scale when shrinking, as MATLAB does by default.

    Returns:
      (src, weights), both [out_len, taps]: output pixel i is sum_k weights[i, k] * input[src[i, k]] (0-based
      source indices, taps that fall outside mirrored back in; weights float64, normalised per row).
    """
    shrink = antialias and scale < 1
    width = 4.0 / scale if shrink else 4.0
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based input positions, as in MATLAB
    dist = u[:, None] - idx
    w = scale * _cubic(scale * dist) if shrink else _cubic(dist)
    w /= w.sum(axis=1, keepdims=True)
    # Mirror (symmetric) padding: 1-based index k maps into [1, in_len] via the sequence 1..n, n..1, 1..n...
    period = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    src = period[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
    return src, w


def _to_dtype(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        # floor(x + 0.5) is MATLAB's round-half-away-from-zero for x >= 0; negatives clip to 0 anyway.
        return np.clip(np.floor(x + 0.5), info.min, info.max).astype(dtype)
    return x.astype(dtype)


def _pass(img: np.ndarray, taps: tuple[np.ndarray, np.ndarray], axis: int) -> np.ndarray:
    # A gather of the few taps per output pixel (16 for x4 down, 4 for up) instead of a dense matmul, which would
    # spend almost all its work on zero weights; taps are summed in order, as MATLAB does.
    src, w = taps
    x = np.moveaxis(img, axis, 0)
    out = np.zeros((src.shape[0],) + x.shape[1:], np.float64)
    for k in range(src.shape[1]):
        out += w[:, k].reshape((-1,) + (1,) * (x.ndim - 1)) * x[src[:, k]]
    return np.ascontiguousarray(np.moveaxis(out, 0, axis))


def imresize(
    img: np.ndarray,
    scale: float | None = None,
    *,
    output_shape: tuple[int, int] | None = None,
    antialias: bool = True,
) -> np.ndarray:
    """MATLAB `imresize(img, scale, 'bicubic')`.

    Args:
      img: [H, W] or [H, W, C]; uint8/uint16 (rounded and clipped after each pass, as MATLAB does) or float
        (no rounding, no clipping; float32 stays float32).
      scale: factor for both axes; the output is ceil(H * scale) x ceil(W * scale).
      output_shape: (height, width) instead of `scale`; each axis then uses its own factor out/in.
      antialias: MATLAB's default antialiasing on downscale.

    Returns:
      The resized image with the dtype and rank of `img`.
    """
    img = np.asarray(img)
    h, w = img.shape[:2]
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    if output_shape is not None:
        out_h, out_w = output_shape
        scales = (out_h / h, out_w / w)
    else:
        out_h, out_w = math.ceil(h * scale), math.ceil(w * scale)
        scales = (float(scale), float(scale))
    out_dtype = img.dtype if img.dtype.kind in "uif" else np.dtype(np.float64)
    if out_dtype.kind == "f" and out_dtype.itemsize < 4:
        out_dtype = np.dtype(np.float32)
    sizes = ((h, out_h), (w, out_w))
    # MATLAB resizes the dimension with the smaller scale first; a stable sort keeps rows first on ties.
    order = sorted(range(2), key=lambda a: scales[a])
    x = img
    for axis in order:
        if sizes[axis][0] == sizes[axis][1] and scales[axis] == 1.0:
            continue
        taps = resize_taps(sizes[axis][0], sizes[axis][1], scales[axis], antialias)
        x = _to_dtype(_pass(x, taps, axis), out_dtype)
    return x if x.dtype == out_dtype else x.astype(out_dtype)


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crops [H, W, ...] top-left to H and W multiples of `scale` (the SR benchmarks' HR convention)."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def bicubic_downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """LR = MATLAB imresize(modcrop(HR, scale), 1/scale): the benchmarks' LR_bicubic convention.

    Args:
      hr: uint8 [H, W] or [H, W, C] (float also works, without rounding).
      scale: integer downscaling factor.

    Returns:
      [H // scale, W // scale(, C)] with the dtype of `hr`.
    """
    return imresize(modcrop(hr, scale), 1.0 / scale)


def bicubic_upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic baseline: MATLAB imresize(LR, scale).

    Args:
      lr: uint8 [h, w(, C)] gives uint8 exactly as MATLAB (rounded between the passes); float [0, 1] gives
        float without rounding or clipping (clip before display).
      scale: integer upscaling factor.

    Returns:
      [h * scale, w * scale(, C)] with the dtype of `lr`.
    """
    return imresize(lr, float(scale))
