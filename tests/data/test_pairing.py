"""Pairing LR and HR folders by name and by content (renamed, shuffled, rotated, mod-cropped files)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from esrgan_jax.data.pairing import name_key, pair_folders, pair_scale
from esrgan_jax.image.io import list_images, read_uint8, write_image
from esrgan_jax.image.resize import bicubic_downscale, imresize, modcrop
from tests.support import SHARED_DATA as SHARED


def _smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random image with structure at several scales (so that bicubic downscaling keeps it distinctive)."""
    noise = rng.random((h, w, 3))
    img = gaussian_filter(noise, (3, 3, 0)) * 0.7 + gaussian_filter(noise, (1, 1, 0)) * 0.3
    img = (img - img.min()) / (img.max() - img.min())
    return np.round(img * 255).astype(np.uint8)


@pytest.mark.parametrize(
    "stem,key",
    [
        ("Baby_x4", "baby"),
        ("babyx4", "baby"),
        ("BABY_LR", "baby"),
        ("baby-lr", "baby"),
        ("baby_HR", "baby"),
        ("comic_LR_x4", "comic"),
        ("comic_bicx4", "comic"),
        ("baby_GTmod12", "baby"),
        ("anchor", "anchor"),
        ("101085", "101085"),
        ("x4", "x4"),
    ],
)
def test_name_key(stem, key):
    assert name_key(stem) == key


def test_pair_scale_allows_mod_crop_only():
    assert pair_scale((72, 72), (288, 288)) == 4
    assert pair_scale((90, 62), (361, 250)) == 4  # floor(HR / 4)
    assert pair_scale((30, 20), (361, 250)) == 12
    assert pair_scale((30, 30), (361, 250)) is None  # x12 in one axis, x8 in the other
    assert pair_scale((60, 60), (250, 250)) == 4  # GTmod12 crop (240) of a 250 HR
    assert pair_scale((90, 90), (361, 250)) is None


def test_synthetic_folders_recovered_by_name_and_content(tmp_path):
    rng = np.random.default_rng(3)
    lr_dir, hr_dir = tmp_path / "lr", tmp_path / "hr"
    sizes = [(64, 64), (64, 64), (64, 64), (50, 70), (41, 58), (72, 48), (64, 64)]
    hrs = {f"img{i}": _smooth_image(rng, *s) for i, s in enumerate(sizes)}
    hrs["dup_b"] = hrs["img6"].copy()  # two identical HRs share one LR: must be refused as ambiguous
    for name, hr in hrs.items():
        write_image(hr_dir / f"{name}.png", hr)
    truth = {}
    write_image(lr_dir / "img0_LRx4.png", bicubic_downscale(hrs["img0"], 4))  # by name
    truth["img0_LRx4.png"] = ("img0.png", 0, "name")
    for i, k in ((1, 0), (2, 1), (3, 2), (5, 3)):  # renamed, rotated
        name = f"{rng.integers(10**8):08d}.png"
        write_image(lr_dir / name, np.rot90(bicubic_downscale(hrs[f"img{i}"], 4), k))
        truth[name] = (f"img{i}.png", (-k) % 4, "content")
    # LR made from a mod-12 crop of the HR (41x58 -> 36x48), as BasicSR's GTmod12 sets are.
    write_image(lr_dir / "zz_mod12.png", imresize(modcrop(hrs["img4"], 12), 0.25))
    truth["zz_mod12.png"] = ("img4.png", 0, "content")
    write_image(lr_dir / "dup.png", bicubic_downscale(hrs["img6"], 4))
    write_image(lr_dir / "stranger.png", _smooth_image(rng, 16, 16))  # fits img1/img2 in size, not in content
    (lr_dir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")

    report = pair_folders(lr_dir, hr_dir, 4, progress=False)
    got = {p.lr.name: (p.hr.name, p.rotation, p.how) for p in report.pairs}
    assert got == truth
    assert all(p.scale == 4 for p in report.pairs)
    assert [p.lr.name for p in report.ambiguous] == ["dup.png"]
    assert report.ambiguous[0].hr.name in ("img6.png", "dup_b.png")
    assert [p.name for p in report.unmatched_lr] == ["stranger.png"]
    other_dup = {"img6.png", "dup_b.png"} - {report.ambiguous[0].hr.name}
    assert [p.name for p in report.unmatched_hr] == sorted(other_dup)
    assert [p.name for p in report.unreadable] == ["broken.png"]
    text = report.format()
    assert text.splitlines()[0] == (
        f"pairing {lr_dir} (LR) with {hr_dir} (HR), x4: 6 pairs (1 by name, 5 by content), 1 ambiguous, "
        "1 unmatched LR, 1 unmatched HR, 1 unreadable"
    )
    assert "LR dup.png <-> HR" in text and "AMBIGUOUS, refused" in text
    assert "LR zz_mod12.png <-> HR img4.png (x4, by content, mean |diff|" in text
    assert len(report.format(verbose=True).splitlines()) == len(text.splitlines()) + 1  # + the by-name pair


def test_name_pair_with_wrong_scale_is_reported(tmp_path):
    rng = np.random.default_rng(0)
    hr = _smooth_image(rng, 40, 40)
    write_image(tmp_path / "hr" / "a.png", hr)
    write_image(tmp_path / "lr" / "a_x2.png", imresize(hr, 0.5))
    report = pair_folders(tmp_path / "lr", tmp_path / "hr", 4, progress=False)
    assert [(p.lr.name, p.scale) for p in report.wrong_scale] == [("a_x2.png", 2)]
    assert "WRONG SCALE: LR a_x2.png <-> HR a.png (x2, by name)" in report.format()


@pytest.mark.skipif(not (SHARED / "benchmarks").is_dir(), reason=f"benchmark data not found at {SHARED}")
@pytest.mark.parametrize("set_name", ["Set14", "B100"])  # B100: 100 images of the same two sizes
def test_benchmark_lr_shuffled_renamed_rotated_recovered(tmp_path, set_name):
    rng = np.random.default_rng(14)
    src = list_images(SHARED / "benchmarks" / set_name / "LR_bicubic" / "X4")
    truth = {}
    for i in rng.permutation(len(src)):
        k = int(rng.integers(4))
        name = f"{rng.integers(10**9):09d}.png"
        Image.fromarray(np.rot90(read_uint8(src[i]), k).squeeze()).save(tmp_path / name)
        truth[name] = (src[i].name, (-k) % 4)
    report = pair_folders(tmp_path, SHARED / "benchmarks" / set_name / "HR", 4, progress=False)
    assert {p.lr.name: (p.hr.name, p.rotation) for p in report.pairs} == truth
    assert not (report.ambiguous or report.unmatched_lr or report.unmatched_hr or report.unreadable)
    assert all(p.how == "content" and p.cost == 0.0 and p.runner_up > 5 for p in report.pairs)
