"""Tests for esrgan_jax.image.color: MATLAB YCbCr against scikit-image, and luminance-only super-resolution."""

import numpy as np
import pytest
from skimage import color as skcolor
from skimage import data as skdata

from esrgan_jax.image.color import rgb_to_ycbcr, upscale_luma, ycbcr_to_rgb
from esrgan_jax.image.resize import imresize
from esrgan_jax.scoring.metrics import rgb_to_y


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return skdata.astronaut()[100:164, 150:230].astype(np.float32) / 255.0


def test_matches_scikit_image_and_the_metrics_luma(rgb):
    ycc = rgb_to_ycbcr(rgb)
    # skimage.color.rgb2ycbcr is MATLAB's rgb2ycbcr on [0, 1] input, 0-255 output
    np.testing.assert_allclose(ycc * 255.0, skcolor.rgb2ycbcr(rgb), atol=2e-4)
    np.testing.assert_allclose(ycc[..., :1] * 255.0, rgb_to_y(rgb), atol=2e-4)
    np.testing.assert_allclose(ycbcr_to_rgb(ycc), skcolor.ycbcr2rgb(ycc * 255.0), atol=2e-6)
    assert ycc.dtype == np.float32 and ycc.shape == rgb.shape


def test_round_trip_and_range():
    corners = np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 0, 1]], np.float32)
    ycc = rgb_to_ycbcr(corners) * 255.0
    np.testing.assert_allclose(ycc[:2, 0], [16.0, 235.0], atol=1e-3)  # studio range
    np.testing.assert_allclose(ycc[:2, 1:], 128.0, atol=1e-3)  # gray has no chroma
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(corners)), corners, atol=1e-6)


def test_luma_model_that_is_bicubic_gives_rgb_bicubic(rgb):
    # bicubic is linear and YCbCr affine, so "Y by bicubic, CbCr by bicubic" must equal bicubic on RGB
    out = upscale_luma(lambda y: imresize(y, 3.0), rgb, 3)
    assert out.shape == (192, 240, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, imresize(rgb, 3.0), atol=1e-5)


def test_errors_name_the_shapes(rgb):
    with pytest.raises(ValueError, match=r"rgb_to_ycbcr: expected \[\.\.\., 3\] RGB, got shape \(4, 4, 1\)"):
        rgb_to_ycbcr(np.zeros((4, 4, 1)))
    with pytest.raises(ValueError, match=r"model output \(64, 80, 1\) does not match the upscaled chroma"):
        upscale_luma(lambda y: y, rgb, 2)
