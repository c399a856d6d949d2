"""MATLAB bicubic imresize: bit-exact on the benchmarks' LR files, and equal to a direct per-pixel formulation."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from esrgan_jax.image.io import list_images, read_uint8
from esrgan_jax.image.resize import bicubic_downscale, bicubic_upscale, imresize, modcrop
from tests.support import SHARED_DATA as SHARED

needs_shared = pytest.mark.skipif(
    not (SHARED / "benchmarks").is_dir(), reason=f"benchmark data not found at {SHARED} (shared data absent)"
)


def _cubic(x: float) -> float:
    x = abs(x)
    if x <= 1:
        return 1.5 * x**3 - 2.5 * x**2 + 1
    if x <= 2:
        return -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2
    return 0.0


def _mirror(j: int, n: int) -> int:
    """1-based symmetric padding: ... 2 1 | 1 2 ... n | n n-1 ..."""
    while j < 1 or j > n:
        j = 1 - j if j < 1 else 2 * n + 1 - j
    return j


def _loop_axis0(img: np.ndarray, out_len: int, scale: float) -> np.ndarray:
    """Resizes axis 0 one output pixel at a time, straight from MATLAB's imresize definition."""
    n = img.shape[0]
    shrink = scale < 1
    width = 4 / scale if shrink else 4
    out = np.zeros((out_len,) + img.shape[1:])
    for i in range(1, out_len + 1):
        u = i / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        acc, total = 0.0, 0.0
        for j in range(left, left + math.ceil(width) + 2):
            h = scale * _cubic(scale * (u - j)) if shrink else _cubic(u - j)
            acc = acc + h * img[_mirror(j, n) - 1].astype(np.float64)
            total += h
        out[i - 1] = acc / total
    return out


def _loop_resize(img: np.ndarray, out_h: int, out_w: int, scale: float | None = None) -> np.ndarray:
    """MATLAB maps coordinates with the scale it was given, or out/in per axis when given an output size."""
    scales = {0: scale or out_h / img.shape[0], 1: scale or out_w / img.shape[1]}
    x = img
    for axis in sorted(scales, key=lambda a: (scales[a], a)):  # smaller scale first, rows on ties
        y = _loop_axis0(np.swapaxes(x, 0, axis), (out_h, out_w)[axis], scales[axis])
        y = np.swapaxes(y, 0, axis)
        x = np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8) if img.dtype == np.uint8 else y
    return x


@pytest.mark.parametrize("scale", [1 / 4, 1 / 3, 1 / 2, 2, 3, 4])
@pytest.mark.parametrize("shape", [(13, 17, 3), (12, 9)])
def test_matches_per_pixel_definition(scale, shape):
    rng = np.random.default_rng(len(shape) * 10 + int(scale * 12))
    u8 = rng.integers(0, 256, shape).astype(np.uint8)
    out_h, out_w = math.ceil(shape[0] * scale), math.ceil(shape[1] * scale)
    want_u8 = _loop_resize(u8, out_h, out_w, scale)
    got_u8 = imresize(u8, scale)
    assert got_u8.dtype == np.uint8 and got_u8.shape == want_u8.shape
    np.testing.assert_array_equal(got_u8, want_u8)
    f = u8.astype(np.float32) / 255
    got_f = imresize(f, scale)
    assert got_f.dtype == np.float32
    np.testing.assert_allclose(got_f, _loop_resize(f.astype(np.float64), out_h, out_w, scale), atol=1e-6)


def test_output_shape_resizes_the_smaller_scale_first():
    # Width shrinks (17 -> 5) more than height (13 -> 8): MATLAB then resizes the width first, and on uint8 the
    # intermediate rounding makes the order visible.
    u8 = np.random.default_rng(0).integers(0, 256, (13, 17, 3)).astype(np.uint8)
    np.testing.assert_array_equal(imresize(u8, output_shape=(8, 5)), _loop_resize(u8, 8, 5))
    up = imresize(u8, output_shape=(64, 64))
    np.testing.assert_array_equal(up, _loop_resize(u8, 64, 64))


def test_constant_image_and_shapes():
    const = np.full((20, 24, 3), 77, np.uint8)
    np.testing.assert_array_equal(bicubic_downscale(const, 4), np.full((5, 6, 3), 77, np.uint8))
    np.testing.assert_array_equal(bicubic_upscale(const[:5, :6], 4), np.full((20, 24, 3), 77, np.uint8))
    odd = np.zeros((23, 30), np.uint8)
    assert modcrop(odd, 4).shape == (20, 28)
    assert bicubic_downscale(odd, 4).shape == (5, 7)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(odd)


def test_upscale_float_is_unrounded_uint8_is_matlab():
    lr = np.random.default_rng(1).integers(0, 256, (6, 7, 3)).astype(np.uint8)
    f = bicubic_upscale(lr.astype(np.float32) / 255, 4)
    assert f.dtype == np.float32 and f.shape == (24, 28, 3)
    assert f.min() < 0 or f.max() > 1  # overshoot is kept: no clipping on the float path
    np.testing.assert_allclose(f, _loop_resize(lr.astype(np.float64) / 255, 24, 28), atol=1e-6)
    np.testing.assert_array_equal(bicubic_upscale(lr, 4), _loop_resize(lr, 24, 28))


@needs_shared
def test_reproduces_every_benchmark_lr_file_bit_exactly():
    pairs = [
        (hr, SHARED / "benchmarks" / s / "LR_bicubic" / "X4" / hr.name)
        for s in ("Set5", "Set14", "B100")
        for hr in list_images(SHARED / "benchmarks" / s / "HR")
    ]
    assert len(pairs) == 119
    worst = {}
    for hr_path, lr_path in pairs:
        lr = read_uint8(lr_path)
        ours = bicubic_downscale(read_uint8(hr_path), 4)
        assert ours.shape == lr.shape, hr_path
        worst[hr_path.name] = int(np.abs(ours.astype(np.int16) - lr).max())
    assert max(worst.values()) == 0, {k: v for k, v in worst.items() if v}


@needs_shared
def test_bicubic_upscale_matches_reference_psnr():
    # bicubic_x4_reference.tsv was computed by an independent implementation (MATLAB-style uint8 upscale).
    with open(SHARED / "bicubic_x4_reference.tsv") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["set"] in ("Set5", "Set14")]
    assert len(rows) == 19
    for r in rows:
        folder = SHARED / "benchmarks" / r["set"]
        lr = read_uint8(folder / "LR_bicubic" / "X4" / f"{r['image']}.png")
        sr = bicubic_upscale(lr, 4)
        hr = read_uint8(folder / "HR" / f"{r['image']}.png")[: sr.shape[0], : sr.shape[1]]
        diff = (sr.astype(np.float64) - hr)[4:-4, 4:-4]
        psnr = 10 * np.log10(255.0**2 / np.mean(diff**2))
        assert psnr == pytest.approx(float(r["psnr_rgb"]), abs=6e-5), r["image"]
