"""Colour correction of a super-resolved image towards the bicubic upscale of its input (opt-in, at inference).

GAN-trained and fine-tuned generators can shift colours: a global tint, or a cast that varies slowly over the
image. The bicubic upscale of the input has the input's colours by construction, so its low frequencies are a
reference for the SR output's:

* `mean`: shift every channel of the SR so that its mean equals the reference's (removes a global tint only).
* `wavelet`: replace the SR's low-frequency band by the reference's, as StableSR's `wavelet_color_fix`: the band
  is what is left after `levels` passes of a 3x3 binomial blur dilated by 1, 2, 4, ... pixels (edge-replicated
  borders); the SR keeps every finer band. Removes slowly varying casts too, but also moves the SR's own
  low-frequency content (smooth gradients, large-scale brightness) back to bicubic's.

Both are linear, so each is `sr + correction(reference - sr)`, computed in float32 on the whole image.
"""

from __future__ import annotations

import numpy as np

COLOR_FIXES = ("none", "mean", "wavelet")
WAVELET_LEVELS = 5
_BINOMIAL = np.array([0.25, 0.5, 0.25], np.float32)  # outer product: StableSR's 3x3 kernel 1/16 [1 2 1; 2 4 2; 1 2 1]


def _blur_axis(img: np.ndarray, axis: int, dilation: int) -> np.ndarray:
    """The binomial filter along `axis` with taps `dilation` pixels apart, edge-replicated."""
    n = img.shape[axis]
    idx = np.arange(n)
    out = _BINOMIAL[1] * img
    for tap, weight in ((-dilation, _BINOMIAL[0]), (dilation, _BINOMIAL[2])):
        out = out + weight * np.take(img, np.clip(idx + tap, 0, n - 1), axis=axis)
    return out


def low_frequency(img: np.ndarray, levels: int = WAVELET_LEVELS) -> np.ndarray:
    """The low-frequency band of `img` [H, W, C]: `levels` dilated binomial blurs (dilations 1, 2, 4, ...)."""
    low = np.asarray(img, np.float32)
    for level in range(levels):
        low = _blur_axis(_blur_axis(low, 0, 2**level), 1, 2**level)
    return low


def color_fix(sr: np.ndarray, reference: np.ndarray, method: str, levels: int = WAVELET_LEVELS) -> np.ndarray:
    """`sr` with its colours matched to `reference` (the bicubic upscale of the input), float32, unclipped.

    Args:
      sr: the SR output, float [H, W, C].
      reference: the bicubic upscale of the input, float [H, W, C] on the same scale.
      method: "none", "mean" (channel means) or "wavelet" (the low-frequency band, `levels` levels).

    Returns:
      The corrected image, float32 [H, W, C].
    """
    if method not in COLOR_FIXES:
        raise ValueError(f"color fix {method!r}: expected one of {', '.join(COLOR_FIXES)}")
    sr = np.asarray(sr, np.float32)
    if sr.shape != np.shape(reference):
        raise ValueError(f"color fix: SR {sr.shape} and reference {np.shape(reference)} differ in shape")
    diff = np.asarray(reference, np.float32) - sr
    if method == "mean":
        return sr + diff.mean(axis=(0, 1), keepdims=True)
    if method == "wavelet":
        return sr + low_frequency(diff, levels)
    return sr
