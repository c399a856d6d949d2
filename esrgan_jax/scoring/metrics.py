"""PSNR and SSIM as super-resolution papers report them, computed with dm-pix.

Two conventions are reported side by side, because papers and toolboxes differ:

* **Y channel** (the paper tables, BasicSR's `test_y_channel: true`, MATLAB's `rgb2ycbcr`): the SR output is
  quantised to uint8, `crop_border = scale` pixels are removed from every side, and RGB becomes
  Y = 16 + 65.481 R + 128.553 G + 24.966 B (R, G, B in [0, 1]; Y on the 0-255 scale, not rounded).
* **RGB**: the same quantisation and crop, scored over the three RGB channels (BasicSR's default).

PSNR is 10 log10(255^2 / MSE). SSIM uses an 11x11 Gaussian window (sigma 1.5, K1 0.01, K2 0.03) in "valid"
mode on the 0-255 scale, averaged over the map and then over channels, as in Wang et al.'s MATLAB code. A
single-channel (grayscale) image is scored on its own channel in both conventions. Everything runs in float64
(jax x64 enabled locally), so results agree with float64 NumPy references to ~1e-10.

**Colour drift** (`color_drift`): the mean absolute difference between the per-image channel means of SR and HR,
on the 0-255 scale, after the same quantisation and crop: over R, G, B, and over Cb, Cr (MATLAB YCbCr). It sees
a global tint or a colour cast that PSNR mixes with every other error.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from dm_pix import mse as _pix_mse
from dm_pix import ssim as _pix_ssim

from esrgan_jax.image.color import YCBCR_MATRIX, YCBCR_OFFSET
from esrgan_jax.image.pixels import quantize

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
_BUCKET = 256  # images are zero-padded to multiples of this (see _padded_scores)


def _to_255(img: np.ndarray) -> np.ndarray:
    """uint8 (0-255) or float in [0, 1] -> float64 [H, W, C] on the 0-255 scale; a 2-D image gets C = 1."""
    img = np.asarray(img)
    out = img.astype(np.float64) if img.dtype == np.uint8 else img.astype(np.float64) * 255.0
    return out[..., None] if out.ndim == 2 else out


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """MATLAB `rgb2ycbcr` luma of an RGB image.

    Args:
      img: uint8 [H, W, 3] (0-255) or float [H, W, 3] in [0, 1].

    Returns:
      float64 [H, W, 1] Y on the 0-255 scale (16..235 for images in range), not rounded.
    """
    rgb = _to_255(img)
    if rgb.shape[-1] != 3:
        raise ValueError(f"rgb_to_y: expected [H, W, 3] RGB, got shape {np.shape(img)}")
    return (rgb / 255.0) @ YCBCR_MATRIX[0][:, None] + YCBCR_OFFSET[0]


def _prepare(a: np.ndarray, b: np.ndarray, crop_border: int, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float64 [H, W, C] on 0-255, cropped, and reduced to Y if asked (and if they have colour)."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"images differ in shape: {np.shape(a)} vs {np.shape(b)}")
    out = []
    for img in (a, b):
        img = _to_255(img)
        if crop_border:
            img = img[crop_border:-crop_border, crop_border:-crop_border]
        if y_channel and img.shape[-1] == 3:
            img = rgb_to_y(img / 255.0)
        out.append(img)
    return out[0], out[1]


def _bucket(n: int) -> int:
    return -(-n // _BUCKET) * _BUCKET


@jax.jit
def _padded_scores(x: jax.Array, y: jax.Array, h: jax.Array, w: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(PSNR, SSIM) of the top-left h x w of two zero-padded [Hp, Wp, C] images on the 0-255 scale.

    Images are padded to a few bucket shapes so that a data set of many sizes compiles a handful of times
    (op-by-op dispatch would recompile every primitive for every new size: seconds per image). Padding adds
    zero to the squared error, and SSIM map positions whose window reaches the padding are masked out, so both
    equal the unpadded values.
    """
    mse = _pix_mse(x / 255.0, y / 255.0) * (x.shape[0] * x.shape[1]) / (h * w)
    smap = _pix_ssim(x, y, max_val=255.0, filter_size=SSIM_WINDOW, filter_sigma=SSIM_SIGMA, return_map=True)
    rows, cols = jnp.arange(smap.shape[0])[:, None], jnp.arange(smap.shape[1])[None, :]
    valid = (rows < h - (SSIM_WINDOW - 1)) & (cols < w - (SSIM_WINDOW - 1))
    total = jnp.sum(jnp.where(valid[..., None], smap, 0.0))
    return -10.0 * jnp.log10(mse), total / ((h - SSIM_WINDOW + 1) * (w - SSIM_WINDOW + 1) * smap.shape[-1])


def psnr_ssim(a: np.ndarray, b: np.ndarray, crop_border: int = 0, y_channel: bool = False) -> tuple[float, float]:
    """PSNR (dB, peak 255) and mean SSIM between two images, in one pass.

    Args:
      a, b: uint8 [H, W, C] / [H, W], or float in [0, 1] (used as is: quantise first with `quantize` to follow
        the SR convention).
      crop_border: pixels removed from each side before scoring.
      y_channel: score the MATLAB Y channel of RGB images (grayscale images are scored on their own channel).

    Returns:
      (PSNR, inf for identical images; SSIM with an 11x11 Gaussian window, sigma 1.5, valid filtering, on the
      0-255 scale, averaged over the map and the channels).
    """
    x, y = _prepare(a, b, crop_border, y_channel)
    h, w, c = x.shape
    if min(h, w) < SSIM_WINDOW:
        raise ValueError(f"ssim: image of {w}x{h} (after crop) is smaller than the 11x11 window")
    pad = ((0, _bucket(h) - h), (0, _bucket(w) - w), (0, 0))
    with jax.enable_x64(True):
        p, s = _padded_scores(jnp.asarray(np.pad(x, pad)), jnp.asarray(np.pad(y, pad)), h, w)
        return float(p), float(s)


def psnr(a: np.ndarray, b: np.ndarray, crop_border: int = 0, y_channel: bool = False) -> float:
    """PSNR in dB (peak 255; inf for identical images); arguments as for `psnr_ssim`."""
    return psnr_ssim(a, b, crop_border, y_channel)[0]


def ssim(a: np.ndarray, b: np.ndarray, crop_border: int = 0, y_channel: bool = False) -> float:
    """Mean SSIM (11x11 Gaussian window, sigma 1.5, valid filtering, 0-255 scale); arguments as for `psnr_ssim`."""
    return psnr_ssim(a, b, crop_border, y_channel)[1]


def color_drift(sr: np.ndarray, hr: np.ndarray, crop_border: int = 0) -> tuple[float, float]:
    """(CbCr drift, RGB drift): mean |channel mean of SR - channel mean of HR| over Cb, Cr and over R, G, B.

    Args:
      sr, hr: uint8 [H, W, C] / [H, W], or float in [0, 1] (as for `psnr_ssim`).
      crop_border: pixels removed from each side first.

    Returns:
      Both on the 0-255 scale. A grayscale pair has no chroma: its CbCr drift is 0 and its RGB drift is that of
      its one channel.
    """
    x, y = _prepare(sr, hr, crop_border, y_channel=False)
    shift = x.mean(axis=(0, 1)) - y.mean(axis=(0, 1))  # YCbCr is affine: the CbCr of the means is the mean CbCr
    rgb = float(np.mean(np.abs(shift)))
    if x.shape[-1] != 3:
        return 0.0, rgb
    return float(np.mean(np.abs(YCBCR_MATRIX[1:] @ (shift / 255.0)))), rgb


def sr_scores(sr: np.ndarray, hr: np.ndarray, scale: int) -> dict[str, float]:
    """Scores one super-resolved image in both conventions.

    Args:
      sr: the SR output, uint8 or float in [0, 1] (quantised to uint8 here) [H, W, C] or [H, W].
      hr: the ground truth, uint8, same shape.
      scale: the SR factor; also the border cropped before scoring.

    Returns:
      {"psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "color_drift_cbcr", "color_drift_rgb"}.
    """
    sr, hr = quantize(sr, np.uint8), quantize(hr, np.uint8)
    psnr_y, ssim_y = psnr_ssim(sr, hr, crop_border=scale, y_channel=True)
    psnr_rgb, ssim_rgb = psnr_ssim(sr, hr, crop_border=scale)
    drift_cbcr, drift_rgb = color_drift(sr, hr, crop_border=scale)
    return {
        "psnr_y": psnr_y,
        "ssim_y": ssim_y,
        "psnr_rgb": psnr_rgb,
        "ssim_rgb": ssim_rgb,
        "color_drift_cbcr": drift_cbcr,
        "color_drift_rgb": drift_rgb,
    }


class LpipsScorer:
    """(sr, hr) -> LPIPS (VGG16, full image, no crop) with the converted LPIPS model directory at `weights`, or
    with its already loaded `(module, params)`.

    Images are uint8 or float in [0, 1], [H, W, C]; a grayscale pair is scored as gray RGB images. Compiles once
    per image size; `release()` frees the compiled sizes and the device copy of the weights until the next call.
    """

    def __init__(self, weights: str | os.PathLike | tuple[Any, Any]):
        from esrgan_jax.models.lpips import lpips_distance
        from esrgan_jax.models.store import load_lpips

        self.module, self._host_params = weights if isinstance(weights, tuple) else load_lpips(weights)
        self._params = None
        # The weights are an argument, not constants closed over: as constants XLA folds them into every
        # executable it compiles (one per image size), a few hundred MB each for VGG16.
        self._apply = jax.jit(lpips_distance, static_argnums=0)

    def __call__(self, sr: np.ndarray, hr: np.ndarray) -> float:
        from esrgan_jax.image.pixels import to_float

        if self._params is None:
            self._params = jax.device_put(self._host_params)
        a, b = (np.repeat(x, 3, -1) if x.shape[-1] == 1 else x for x in (sr, hr))
        return float(self._apply(self.module, self._params, to_float(a), to_float(b)))

    def release(self) -> None:
        """Drops the compiled programs and the weights on the device (a later call places and compiles again)."""
        self._apply.clear_cache()
        self._params = None


def lpips_scorer(weights: str | os.PathLike | tuple[Any, Any]) -> LpipsScorer:
    """An `LpipsScorer` for the converted LPIPS model directory at `weights`, or its loaded `(module, params)`."""
    return LpipsScorer(weights)
