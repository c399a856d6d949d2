"""Golden tests of esrgan_jax.scoring.metrics against scikit-image, a NumPy BasicSR re-implementation, reference scores;
the LPIPS scorer against the `lpips` PyTorch package (the `lpips_torch` fixture of tests/conftest.py).

The BasicSR re-implementation below is written from the convention's description (esrgan-facts.md section 4):
crop, Y in float32 via /255, float64 PSNR on 0-255, SSIM with an 11x11 Gaussian window filtered in "valid" mode.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from scipy.ndimage import correlate, gaussian_filter
from scipy.signal import correlate2d
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from esrgan_jax.image import bicubic_upscale, read_uint8
from esrgan_jax.models.store import load_lpips
from esrgan_jax.scoring import metrics
from testkit.lpips_oracle import backbone
from tests.support import SHARED_DATA
from weights_conversion.__main__ import main as convert_main


def _pair(gray: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A natural uint8 crop and a blurred, noisy version of it (distinct, non-trivial SSIM)."""
    hr = skdata.astronaut()[90:162, 140:228]
    rng = np.random.default_rng(0)
    sr = gaussian_filter(hr.astype(np.float64), sigma=(1.2, 1.2, 0)) + rng.normal(0, 6, hr.shape)
    sr = np.clip(np.round(sr), 0, 255).astype(np.uint8)
    if gray:
        return hr[..., 1], sr[..., 1]
    return hr, sr


def _basicsr_y(img: np.ndarray) -> np.ndarray:
    img = img.astype(np.float32) / 255.0
    y = img @ np.array([65.481, 128.553, 24.966], np.float32) + 16.0
    return y.astype(np.float64)


def _basicsr_prepare(img, crop, y_channel):
    img = img[..., None] if img.ndim == 2 else img
    img = img[crop:-crop, crop:-crop] if crop else img
    if y_channel and img.shape[-1] == 3:
        return _basicsr_y(img)[..., None]
    return img.astype(np.float64)


def basicsr_psnr(a, b, crop, y_channel):
    a, b = _basicsr_prepare(a, crop, y_channel), _basicsr_prepare(b, crop, y_channel)
    return 10.0 * np.log10(255.0**2 / np.mean((a - b) ** 2))


def basicsr_ssim(a, b, crop, y_channel):
    a, b = _basicsr_prepare(a, crop, y_channel), _basicsr_prepare(b, crop, y_channel)
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.sum(g) ** 2
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    scores = []
    for ch in range(a.shape[-1]):
        x, y = a[..., ch], b[..., ch]
        f = lambda z: correlate2d(z, window, mode="valid")  # noqa: E731
        mx, my = f(x), f(y)
        sxx, syy, sxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
        smap = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
        scores.append(smap.mean())
    return float(np.mean(scores))


def test_rgb_to_y_matches_matlab_rgb2ycbcr_range():
    img = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    np.testing.assert_allclose(metrics.rgb_to_y(img)[0, :, 0], [16.0, 235.0, 81.481, 144.553, 40.966], atol=1e-9)
    np.testing.assert_allclose(metrics.rgb_to_y(img / 255.0), metrics.rgb_to_y(img), atol=1e-9)


@pytest.mark.parametrize("gray", [False, True])
def test_rgb_metrics_match_skimage(gray):
    hr, sr = _pair(gray)
    ch = None if gray else -1
    want_psnr = peak_signal_noise_ratio(hr, sr, data_range=255)
    want_ssim = structural_similarity(
        hr.astype(np.float64),
        sr.astype(np.float64),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=ch,
    )
    assert metrics.psnr(sr, hr) == pytest.approx(want_psnr, abs=1e-9)
    assert metrics.ssim(sr, hr) == pytest.approx(want_ssim, abs=1e-7)
    assert 0.3 < want_ssim < 0.95  # a non-trivial pair, so the comparison can fail


def test_y_metrics_match_skimage_on_independent_luma():
    hr, sr = _pair()
    hy, sy = (_basicsr_y(x[4:-4, 4:-4]) for x in (hr, sr))
    want_ssim = structural_similarity(
        hy, sy, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert metrics.psnr(sr, hr, crop_border=4, y_channel=True) == pytest.approx(
        peak_signal_noise_ratio(hy, sy, data_range=255), abs=1e-4
    )
    assert metrics.ssim(sr, hr, crop_border=4, y_channel=True) == pytest.approx(want_ssim, abs=1e-6)


@pytest.mark.parametrize("gray", [False, True])
@pytest.mark.parametrize("y_channel", [False, True])
def test_matches_basicsr_reimplementation(gray, y_channel):
    hr, sr = _pair(gray)
    assert metrics.psnr(sr, hr, 4, y_channel) == pytest.approx(basicsr_psnr(sr, hr, 4, y_channel), abs=1e-4)
    assert metrics.ssim(sr, hr, 4, y_channel) == pytest.approx(basicsr_ssim(sr, hr, 4, y_channel), abs=1e-6)


def test_ssim_is_valid_mode_not_padded():
    # Corrupt the top rows: a padded ("same") SSIM map counts them in more windows than the valid one does.
    hr, _ = _pair(gray=True)
    sr = hr.copy()
    sr[:3] = 255 - sr[:3]
    valid = basicsr_ssim(sr, hr, 0, False)
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.sum(g) ** 2
    x, y = hr.astype(np.float64), sr.astype(np.float64)
    f = lambda z: correlate(z, w, mode="reflect")  # noqa: E731
    mx, my = f(x), f(y)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    num = (2 * mx * my + c1) * (2 * (f(x * y) - mx * my) + c2)
    same = np.mean(num / ((mx**2 + my**2 + c1) * (f(x * x) - mx**2 + f(y * y) - my**2 + c2)))
    assert abs(valid - same) > 1e-2
    assert metrics.ssim(sr, hr) == pytest.approx(valid, abs=1e-9)


def test_sr_scores_quantises_float_output_and_crops_by_scale():
    hr, sr = _pair()
    sr_float = sr / 255.0 + 0.4 / 255.0  # rounds back to the same uint8
    got = metrics.sr_scores(sr_float, hr, scale=4)
    assert got["psnr_y"] == pytest.approx(basicsr_psnr(sr, hr, 4, True), abs=1e-4)
    assert got["ssim_y"] == pytest.approx(basicsr_ssim(sr, hr, 4, True), abs=1e-6)
    assert got["psnr_rgb"] == pytest.approx(basicsr_psnr(sr, hr, 4, False), abs=1e-9)
    assert got["ssim_rgb"] == pytest.approx(basicsr_ssim(sr, hr, 4, False), abs=1e-6)
    assert metrics.psnr(hr, hr) == float("inf")
    with pytest.raises(ValueError, match=r"differ in shape"):
        metrics.psnr(hr, hr[:-1])


REFERENCE_IMAGES = [("Set5", "butterfly"), ("Set5", "woman"), ("Set14", "bridge"), ("Set14", "comic")]


@pytest.mark.skipif(not (SHARED_DATA / "bicubic_x4_reference.tsv").is_file(), reason=f"no shared data at {SHARED_DATA}")
@pytest.mark.parametrize(("dataset", "name"), REFERENCE_IMAGES)
def test_bicubic_scores_match_reference_tsv(dataset, name):
    rows = {
        (r["set"], r["image"]): r
        for r in csv.DictReader(open(SHARED_DATA / "bicubic_x4_reference.tsv"), delimiter="\t")
    }
    ref = rows[(dataset, name)]
    root = SHARED_DATA / "benchmarks" / dataset
    lr = read_uint8(root / "LR_bicubic" / "X4" / f"{name}.png")
    hr = read_uint8(root / "HR" / f"{name}.png")[: 4 * lr.shape[0], : 4 * lr.shape[1]]
    got = metrics.sr_scores(bicubic_upscale(lr, 4), hr, scale=4)
    assert got["psnr_y"] == pytest.approx(float(ref["psnr_y"]), abs=6e-5)
    assert got["ssim_y"] == pytest.approx(float(ref["ssim_y"]), abs=6e-6)
    assert got["psnr_rgb"] == pytest.approx(float(ref["psnr_rgb"]), abs=6e-5)


def test_lpips_scorer_matches_the_lpips_package_on_uint8_images(tmp_path, lpips_torch):
    torch.save(backbone().state_dict(), tmp_path / "vgg16.pth")
    assert convert_main(["--kind", "lpips", str(tmp_path / "vgg16.pth"), str(tmp_path / "lpips")]) == 0
    hr, sr = _pair()

    def oracle(a: np.ndarray, b: np.ndarray) -> float:  # uint8 [H, W, 3] -> [-1, 1] NCHW, as lpips expects
        t = [torch.from_numpy(x.astype(np.float32) / 255 * 2 - 1).permute(2, 0, 1)[None] for x in (a, b)]
        with torch.no_grad():
            return float(lpips_torch(*t))

    scorer = metrics.lpips_scorer(tmp_path / "lpips")
    want = oracle(sr, hr)
    assert want > 5e-3 and scorer(sr, hr) == pytest.approx(want, abs=1e-6)
    assert scorer(sr / 255.0, hr / 255.0) == pytest.approx(want, abs=1e-6)  # floats in [0, 1] alike
    assert scorer(hr, hr) == pytest.approx(0.0, abs=1e-7)
    scorer.release()  # the next call places and compiles again
    assert scorer(sr, hr) == pytest.approx(want, abs=1e-6)
    assert metrics.lpips_scorer(load_lpips(tmp_path / "lpips"))(sr, hr) == pytest.approx(want, abs=1e-6)  # loaded
    gray_hr, gray_sr = (x[..., None] for x in _pair(gray=True))  # [H, W, 1]: scored as gray RGB
    rgb = lambda x: np.repeat(x, 3, -1)  # noqa: E731
    assert scorer(gray_sr, gray_hr) == pytest.approx(oracle(rgb(gray_sr), rgb(gray_hr)), abs=1e-6)
