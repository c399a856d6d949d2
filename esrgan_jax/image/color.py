"""MATLAB's YCbCr (BT.601, studio range) and super-resolution by a one-channel luminance model.

SRCNN was trained and published on the Y channel only: the network sees luminance, and Cb/Cr are upscaled with
bicubic (Dong et al. 2014, section 4). A model with one input channel (an SRCNN trained with
`--config.model.num_channels=1`, or a converted original Y-only SRCNN) is therefore run that way on colour
images, in training, validation and `Upscaler`. The conversion is MATLAB `rgb2ycbcr` / `ycbcr2rgb` on [0, 1]
floats, the same luma as `esrgan_jax.scoring.metrics.rgb_to_y` (which scores PSNR-Y on the 0-255 scale).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# MATLAB rgb2ycbcr (ITU-R BT.601, studio range; not OpenCV's full-range YCrCb) for RGB in [0, 1]: rows give Y,
# Cb, Cr on the 0-255 scale before the offsets. esrgan_jax.scoring.metrics scores PSNR-Y with row 0.
YCBCR_MATRIX = np.array(
    [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]],
    np.float64,
)
YCBCR_OFFSET = np.array([16.0, 128.0, 128.0])
_INVERSE = np.linalg.inv(YCBCR_MATRIX)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """[..., 3] RGB float in [0, 1] -> [..., 3] YCbCr in [0, 1] (Y in 16/255..235/255), float32, unrounded."""
    rgb = np.asarray(rgb, np.float64)
    if rgb.shape[-1] != 3:
        raise ValueError(f"rgb_to_ycbcr: expected [..., 3] RGB, got shape {rgb.shape}")
    return ((rgb @ YCBCR_MATRIX.T + YCBCR_OFFSET) / 255.0).astype(np.float32)


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of `rgb_to_ycbcr`: [..., 3] YCbCr in [0, 1] -> [..., 3] RGB float32 (unclipped)."""
    ycc = np.asarray(ycc, np.float64)
    return ((ycc * 255.0 - YCBCR_OFFSET) @ _INVERSE.T).astype(np.float32)


def upscale_luma(run_y: Callable[[np.ndarray], np.ndarray], lr_rgb: np.ndarray, scale: int) -> np.ndarray:
    """Super-resolves RGB with a luminance-only model: Y through `run_y`, Cb and Cr by MATLAB bicubic.

    Args:
      run_y: [h, w, 1] Y in [0, 1] -> [h * scale, w * scale, 1] (the model, with any pre-upsampling it needs).
      lr_rgb: [h, w, 3] float RGB in [0, 1].
      scale: the model's factor.

    Returns:
      [h * scale, w * scale, 3] float32 RGB, unclipped.
    """
    from esrgan_jax.image.resize import imresize  # the data package is heavy; only luma models need it here

    ycc = rgb_to_ycbcr(lr_rgb)
    y = np.asarray(run_y(ycc[..., :1]), np.float32)
    cbcr = np.asarray(imresize(ycc[..., 1:], float(scale)), np.float32)
    if y.shape[:2] != cbcr.shape[:2]:
        raise ValueError(f"upscale_luma: model output {y.shape} does not match the upscaled chroma {cbcr.shape}")
    return ycbcr_to_rgb(np.concatenate([y, cbcr], axis=-1))
