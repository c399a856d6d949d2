"""Colour drift (scoring.metrics.color_drift) on tints of known size, and the inference colour fix
(inference.color_fix, `Upscaler(color_fix=...)`, `evaluate --color-fix`) removing a tint."""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage import data as skdata

from esrgan_jax import evaluate as ev
from esrgan_jax.errors import UserError
from esrgan_jax.image import bicubic_downscale, bicubic_upscale, write_image
from esrgan_jax.inference import Upscaler
from esrgan_jax.inference.color_fix import color_fix, low_frequency
from esrgan_jax.models.store import save_model
from esrgan_jax.scoring.metrics import color_drift, psnr, sr_scores
from tests.support import HP, nearest_generator

# +6 levels on R moves Cb by -37.797 * 6 / 255 and Cr by 112 * 6 / 255 (MATLAB YCbCr rows); RGB mean |shift| 6 / 3
TINT_CBCR = (37.797 + 112.0) * 6 / 255 / 2


@pytest.fixture(scope="module")
def hr() -> np.ndarray:
    return skdata.astronaut()[200:264, 160:240]  # 64x80, no channel near 0 or 255 after a 6-level shift


def test_drift_of_a_synthetic_tint_equals_its_definition(hr):
    tinted = hr + np.array([6, 0, 0], np.uint8)
    assert hr[..., 0].max() <= 249
    cbcr, rgb = color_drift(tinted, hr)
    assert rgb == pytest.approx(2.0, abs=1e-12) and cbcr == pytest.approx(TINT_CBCR, abs=1e-9)
    assert TINT_CBCR == pytest.approx(1.762318, abs=1e-6)
    scores = sr_scores(tinted, hr, scale=4)  # the same with the scale's border cropped: the tint is uniform
    assert (scores["color_drift_rgb"], scores["color_drift_cbcr"]) == pytest.approx((2.0, TINT_CBCR), abs=1e-9)
    assert color_drift(hr[..., :1] + np.uint8(3), hr[..., :1]) == pytest.approx((0.0, 3.0))  # gray: no chroma
    # opposite shifts in two halves cancel in the means: drift sees global colour, not pixel error
    flat = np.full((64, 64, 3), 128, np.uint8)
    half = flat.copy()
    half[:32, :, 1] += 5
    half[32:, :, 1] -= 5
    assert color_drift(half, flat) == (0.0, 0.0)
    assert psnr(half, flat) == pytest.approx(10 * np.log10(255**2 * 3 / 25))  # G off by 5 everywhere


def test_color_fix_removes_a_tint_and_keeps_the_detail(hr):
    ref = bicubic_upscale(bicubic_downscale(hr, 4), 4).astype(np.float32) / 255.0
    detail = (hr.astype(np.float32) / 255.0) - ref  # what SR adds over bicubic
    tint = np.array([0.05, -0.03, 0.0], np.float32)
    for method in ("mean", "wavelet"):
        fixed = color_fix(ref + detail + tint, ref, method)
        assert np.abs(fixed.mean((0, 1)) - (ref + detail).mean((0, 1))).max() < 2e-3, method
    # mean keeps every pixel's detail exactly; wavelet keeps only what is finer than its low band
    kept = color_fix(ref + detail + tint, ref, "mean") - ref
    np.testing.assert_allclose(kept, detail - detail.mean((0, 1)), atol=1e-5)  # float32 sums
    np.testing.assert_allclose(low_frequency(np.full((16, 16, 3), 0.3, np.float32)), 0.3, atol=1e-6)
    np.testing.assert_array_equal(color_fix(ref + tint, ref, "none"), ref + tint)
    with pytest.raises(UserError, match=r"^color fix 'hsv': expected one of none, mean, wavelet$"):
        Upscaler(nearest_generator()[:2], color_fix="hsv")


def test_upscaler_color_fix_on_a_tinted_model(hr):
    lr = bicubic_downscale(hr, 4)
    module, params = nearest_generator(tint=(12 / 255, 0.0, 6 / 255))  # a nearest-neighbour model, tinted
    out = {m: Upscaler((module, params), tile=0, color_fix=m).upscale(lr) for m in ("none", "mean", "wavelet")}
    drift = {m: color_drift(o, hr, 4) for m, o in out.items()}
    scores = {m: psnr(o, hr, 4, y_channel=True) for m, o in out.items()}
    # (12 + 0 + 6) / 3 = 6 levels of tint; 0.1 is nearest-vs-HR's own drift and the clipping of dark blue
    assert drift["none"] == pytest.approx((2.844, 6.106), abs=1e-3)
    assert drift["mean"][1] < 0.2 and drift["wavelet"][1] < 0.2
    # PSNR-Y gains little: the tint moves Y by 3.7 levels, small beside nearest-neighbour's own error
    assert (scores["none"], scores["mean"], scores["wavelet"]) == pytest.approx((22.87, 23.05, 23.06), abs=0.01)


def test_evaluate_color_fix_column(hr, tmp_path):
    (tmp_path / "Tiny").mkdir()
    write_image(tmp_path / "Tiny" / "a.png", hr)
    save_model(tmp_path / "tinted", "rrdbnet", HP, {"params": nearest_generator(tint=(16 / 255, 0.0, 0.0))[1]})
    drift = {}
    for fix in ("none", "mean"):
        out = tmp_path / fix
        ev.main(["--data", str(tmp_path / "Tiny"), "--method", f"t={tmp_path / 'tinted'}", "--out", str(out)]
                + ["--color-fix", fix, "--no-images"])  # fmt: skip
        summary = json.loads((out / "summary.json").read_text())["results"]["t"]["Tiny"]
        drift[fix] = summary["color_drift_rgb"]
        assert "color_drift_cbcr,color_drift_rgb" in (out / "per_image.csv").read_text().splitlines()[0]
        assert "Colour drift CbCr / RGB" in (out / "summary.md").read_text()
    assert drift["none"] == pytest.approx(16 / 3, abs=0.3) and drift["mean"] < 0.3


def test_upscale_cli_color_fix_matches_the_upscaler(hr, tmp_path):
    from esrgan_jax.image.io import read_uint8
    from esrgan_jax.upscale import main

    module, params = nearest_generator(tint=(12 / 255, 0.0, 6 / 255))
    save_model(tmp_path / "tinted", "rrdbnet", HP, {"params": params})
    lr = bicubic_downscale(hr, 4)
    write_image(tmp_path / "in.png", lr)
    argv = [str(tmp_path / "in.png"), "--weights", str(tmp_path / "tinted"), "-o", str(tmp_path / "out")]
    assert main([*argv, "--tile", "0", "--color-fix", "wavelet", "--no-progress"]) == 0
    got = read_uint8(tmp_path / "out" / "in_out.png")
    np.testing.assert_array_equal(got, Upscaler((module, params), tile=0, color_fix="wavelet").upscale(lr))
    assert color_drift(got, hr, 4)[1] < 0.2
