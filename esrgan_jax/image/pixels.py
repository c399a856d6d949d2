"""Pixel types: the one conversion between float images in [0, 1] and uint8/uint16 samples."""

from __future__ import annotations

import numpy as np


def quantize(a: np.ndarray, dtype: np.dtype | type = np.uint8) -> np.ndarray:
    """`a` as `dtype` pixels.

    Args:
      a: float [..] in [0, 1] (clipped), or uint8/uint16 samples.
      dtype: uint8 or uint16 (rounded half to even, in float64 as BasicSR's `tensor2img`), or a float dtype
        (clipped to [0, 1]).

    Returns:
      The image as `dtype`; integer samples are rescaled between bit depths (uint16 -> uint8 rounds).
    """
    a, dtype = np.asarray(a), np.dtype(dtype)
    if a.dtype == dtype and dtype.kind == "u":
        return a
    if a.dtype == np.uint8 and dtype == np.uint16:
        return a.astype(np.uint16) * 257
    if a.dtype == np.uint16 and dtype == np.uint8:
        return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if a.dtype.kind == "u":  # integer samples to float
        return (a.astype(np.float64) / np.iinfo(a.dtype).max).astype(dtype)
    if dtype.kind == "u":
        return np.round(np.clip(a.astype(np.float64), 0.0, 1.0) * np.iinfo(dtype).max).astype(dtype)
    return np.clip(a, 0.0, 1.0).astype(dtype)


def to_uint8(a: np.ndarray) -> np.ndarray:
    """uint8/uint16 samples or floats in [0, 1] as uint8 (rounded, clipped)."""
    return quantize(a, np.uint8)


def to_float(a: np.ndarray) -> np.ndarray:
    """uint8/uint16 samples or floats as float32 in [0, 1] (floats are passed through, not clipped)."""
    a = np.asarray(a)
    return a.astype(np.float32) / np.float32(np.iinfo(a.dtype).max) if a.dtype.kind == "u" else a.astype(np.float32)
