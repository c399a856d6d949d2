"""esrgan_jax/training/validation.py: `Validator.run` scores the generator's output on the first `limit` images
and reports `std_ratio` (the SR outputs' spatial std over the HR's), checked against numpy on the same images
for a nearest-neighbour generator and a flat one; `mean_scores`; the final report with its notes."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from esrgan_jax.data import open_dataset
from esrgan_jax.training.collapse import spatial_std
from esrgan_jax.training.validation import Validator, mean_scores
from tests.support import nearest_generator, tiny


def _nearest(lr: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(lr, 4, axis=0), 4, axis=1)


def _psnr_rgb(sr: np.ndarray, hr: np.ndarray, border: int = 4) -> float:
    a, b = (x[border:-border, border:-border].astype(np.float64) for x in (sr, hr))
    return float(10 * np.log10(255.0**2 / np.mean((a - b) ** 2)))


@pytest.fixture(scope="module")
def data(assets):
    return open_dataset(str(assets / "hr"), 4)


def test_nearest_generator_scores_and_std_ratio_match_numpy(data, tmp_path):
    module, params = nearest_generator(num_grow_ch=8)
    scores, rows = Validator(module, data, "g", limit=2).run(params, tmp_path / "fig.png")
    examples = [data[i] for i in range(2)]
    assert [r["image"] for r in rows] == [ex.name for ex in examples] and {r["method"] for r in rows} == {"g"}
    # nearest upscaling repeats each LR pixel 4x4 times: the same per-channel std as the LR itself
    want = sum(spatial_std(ex.lr) for ex in examples) / sum(spatial_std(ex.hr) for ex in examples)
    assert scores["std_ratio"] == pytest.approx(want, rel=1e-9) and 0.5 < want < 1
    per_image = [_psnr_rgb(_nearest(ex.lr), ex.hr) for ex in examples]
    assert [r["psnr_rgb"] for r in rows] == pytest.approx(per_image, abs=1e-6)
    assert scores["psnr_rgb"] == pytest.approx(np.mean(per_image), abs=1e-6)
    assert (tmp_path / "fig.png").stat().st_size > 0


def test_flat_output_has_std_ratio_zero(data):
    module, params = tiny(0, num_grow_ch=8)
    flat = jax.tree.map(np.zeros_like, params)
    flat["conv_last"]["bias"] = np.full_like(flat["conv_last"]["bias"], 0.5)  # 0.5 gray everywhere
    scores, rows = Validator(module, data, "g", limit=1).run(flat)
    assert scores["std_ratio"] == 0.0 and len(rows) == 1
    hr = data[0].hr
    assert scores["psnr_rgb"] == pytest.approx(_psnr_rgb(np.full_like(hr, 128), hr), abs=1e-6)  # 0.5 -> 128


def test_mean_scores_averages_each_metric_and_skips_lpips_when_absent():
    rows = [
        {"psnr_y": 20.0, "ssim_y": 0.5, "psnr_rgb": 19.0, "ssim_rgb": 0.4, "color_drift_cbcr": 1.0,
         "color_drift_rgb": 2.0, "lpips": None, "image": "a"},
        {"psnr_y": 23.0, "ssim_y": 0.7, "psnr_rgb": 21.0, "ssim_rgb": 0.6, "color_drift_cbcr": 3.0,
         "color_drift_rgb": 4.0, "lpips": None, "image": "b"},
    ]  # fmt: skip
    assert mean_scores(rows) == {
        "psnr_y": 21.5, "ssim_y": 0.6, "psnr_rgb": 20.0, "ssim_rgb": 0.5, "color_drift_cbcr": 2.0,
        "color_drift_rgb": 3.0,
    }  # fmt: skip
    assert mean_scores([{**rows[0], "lpips": 0.25}, {**rows[1], "lpips": 0.5}])["lpips"] == 0.375
    assert mean_scores([]) == {}


def test_report_writes_the_tables_then_the_notes(data, tmp_path):
    module, params = nearest_generator(num_grow_ch=8)
    validator = Validator(module, data, "g", limit=2)
    _, rows = validator.run(params)
    text, bicubic = validator.report(rows, tmp_path, ["selected by psnr_y: step 2", "start (step 0): psnr_y 1"])
    assert text.endswith("\nselected by psnr_y: step 2\n\nstart (step 0): psnr_y 1\n")
    assert (tmp_path / "eval.md").read_text() == text and "| bicubic |" in text and "| g |" in text
    summary = json.loads((tmp_path / "eval.json").read_text())
    base, ours = (summary["results"][method][data.name] for method in ("bicubic", "g"))  # {method: {dataset: ..}}
    assert {k: v for k, v in base.items() if k not in ("lpips", "n")} == bicubic
    assert (base["n"], ours["n"], ours["lpips"]) == (2, 2, None)
    assert ours["psnr_rgb"] == pytest.approx(np.mean([r["psnr_rgb"] for r in rows]), abs=1e-12)
    assert len((tmp_path / "per_image.csv").read_text().splitlines()) == 1 + 2 * 2  # header, 2 methods x 2 images
