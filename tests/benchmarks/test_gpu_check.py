"""The GPU check (benchmarks/gpu/check.py) end to end in its `--cpu-smoke` mode, so the one-shot GPU command cannot rot.

The smoke run is the GPU run's code on tiny sizes: every section must pass, its correctness numbers must be real
(each parity case within its tolerance, outputs that depend on the input, bicubic Set5 equal to the CPU numbers,
the JAX and PyTorch speed rows computing the same forward output), and the report must hold every table. No
timing is asserted; the budget guard is checked on its own, without running a row.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.common.weights import flax_to_state_dict
from benchmarks.gpu import check as gpu_check
from benchmarks.gpu import report as gpu_report
from benchmarks.gpu import speed as gpu_speed
from testkit.flax_models import random_params
from tests.support import SHARED_DATA
from weights_conversion.lpips import default_lin_path

REPO = Path(__file__).resolve().parents[2]
SET5 = SHARED_DATA / "benchmarks" / "Set5"
ROWS = ["forward 16x16 b1", "train b2 16x16 (trunk)", "upscale 64x64 -> 256x256 (tile 32)", "train b2 16x16 (all)"]
KINDS = ("forward", "train", "upscale")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("gpu_check")
    # No budget in the test: a loaded CI machine must not skip rows (the guard is tested on its own below).
    argv = [sys.executable, "-m", "benchmarks.gpu.check", "--out", str(out), "--cpu-smoke", "--budget-s", "1e9"]
    argv += ["--data", str(SET5)] if SET5.is_dir() else []
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "gpu_check.json").read_text()), (out / "gpu_check.md").read_text()


def test_smoke_run_passes_every_section(smoke):
    report, md = smoke
    assert report["schema"] == gpu_check.SCHEMA and report["mode"] == "cpu-smoke" and report["passed"] is True
    assert list(report["sections"]) == list(gpu_check.SECTIONS)
    for name, section in report["sections"].items():
        assert section["status"] == ("skipped" if name == "set5" and not SET5.is_dir() else "ok"), name
    env = report["sections"]["environment"]["result"]
    assert env["ok"] is True and env["jax_backend"] == "cpu" and env["torch"]["device"] == "cpu"
    assert env["versions"]["jax"] and env["versions"]["torch"]
    assert report["sections"]["weights"]["result"]["source"].startswith("numpy")
    assert md.startswith("# esrgan-jax GPU check (cpu-smoke)")


def test_parity_numbers_are_real(smoke):
    report, md = smoke
    cases = report["sections"]["parity"]["result"]
    assert len(cases) == 6
    for name, case in cases.items():
        if name.startswith("lpips") and default_lin_path() is None:
            assert case["ok"] is None and "skipped" in case
            continue
        assert case["ok"] is True and case["max_abs_diff"] <= case["atol"] <= 1e-5, name
        assert case["max_abs_ref"] > 100 * case["atol"], name  # outputs far above the tolerance: the check has teeth
        if "batch_outputs_differ" in case:
            assert case["batch_outputs_differ"] > 100 * case["atol"], name
        assert f"| {name} |" in md
    disc = next(c for n, c in cases.items() if n.startswith("discriminator"))
    assert disc["train_mode"]["max_abs_diff"] <= 1e-5


def test_training_smoke_and_set5(smoke):
    report, md = smoke
    trained = report["sections"]["train_smoke"]["result"]
    assert set(trained) == {"mse", "perceptual_esrgan"}
    for name, run in trained.items():
        assert run["ok"] is True and run["steps"] == 2 and run["start"] == "converted", name
        assert [r["step"] for r in run["losses"]] == [1, 2]
        assert all(math.isfinite(v) and v > 0 for r in run["losses"] for k, v in r.items() if k != "step")
    assert {"l_g_percep", "l_g_gan", "l_d_real", "l_d_fake"} <= set(trained["perceptual_esrgan"]["losses"][0])
    if not SET5.is_dir():
        pytest.skip(f"{SET5} is absent")
    set5 = report["sections"]["set5"]["result"]
    assert set5["dataset"] == "Set5" and set5["images"] == 5 and set(set5["results"]) == {"bicubic", "mse_tiny"}
    assert abs(set5["results"]["bicubic"]["psnr_y"] - 28.4290) < 1e-3  # README's bicubic row, on this backend
    assert abs(set5["results"]["bicubic"]["ssim_y"] - 0.81114) < 1e-4
    assert "| bicubic | 28.429" in md


def test_speed_rows(smoke):
    report, md = smoke
    records = report["sections"]["speed"]["result"]
    paths = {kind: tuple(v for v, (_, kinds) in gpu_speed.PATH_VARIANTS.items() if kind in kinds) for kind in KINDS}
    assert paths == {"forward": ("jax-f32-winograd4", "jax-f32-concat-free"), "train": ("jax-f32-concat-free",),
                     "upscale": ()}  # fmt: skip
    assert [(r["name"], r["variant"]) for r in records] == [
        (name, v)
        for name in ROWS
        for v in ("jax-f32", "jax-bf16") + paths[name.split()[0]]
        + (() if name.startswith("upscale") else ("torch-f32", "torch-bf16"))
    ]  # fmt: skip
    for r in records:
        assert r["status"] == "ok" and len(r["times_s"]) == 2 and r["median_s"] == np.median(r["times_s"])
        assert r["tflops"] > 0 and r["of_bf16_peak"] == r["tflops"] / gpu_speed.BF16_PEAK_TFLOPS
        assert f"| {r['name']} | {r['variant']} |" in md
        if r["variant"].startswith("jax") and not r["name"].startswith("upscale"):
            assert r["compile_s"] > 0 and r["first_call_s"] >= r["compile_s"] and r["program_mb"] > 0
        if r["variant"] in ("jax-f32", "jax-bf16") and not r["name"].startswith("upscale"):
            assert r["jax_over_torch"] == pytest.approx(r["median_s"] / next(
                t["median_s"] for t in records if (t["name"], t["variant"]) == (r["name"], "torch-" + r["variant"][4:])
            ))  # fmt: skip
    forward = {r["variant"]: r for r in records if r["kind"] == "forward"}
    assert forward["torch-f32"]["max_abs_diff_vs_jax_f32"] < 1e-5  # same weights and input, both float32
    for v in ("jax-bf16", "torch-bf16"):  # bfloat16 differs, but only by rounding
        assert 1e-5 < forward[v]["max_abs_diff_vs_jax_f32"] < 0.1
    for v in ("jax-f32-winograd4", "jax-f32-concat-free"):  # the other convolution paths: float32 rounding only
        assert forward[v]["max_abs_diff_vs_jax_f32"] < 1e-5
    upscale = [r for r in records if r["kind"] == "upscale"]
    for r in upscale:
        assert r["tiles"] == 4 and r["tiles_per_s"] == pytest.approx(4 / r["median_s"])
        assert r["output_mp_per_s"] == pytest.approx(256 * 256 / 1e6 / r["median_s"])


def test_budget_guard_skips_rows_and_says_why(tmp_path):
    """With no time left, every row is skipped before any compile, with the reason in the record and report."""
    from esrgan_jax.models import RRDBNet

    cfg = gpu_check.SMOKE.model
    params = random_params(RRDBNet(**cfg), 0, np.zeros((1, 4, 4, 3), np.float32))
    np.savez(tmp_path / "w.npz", **flax_to_state_dict(params))
    rows = gpu_speed.plan((16, 32), (2, 16), (64, 32))
    assert [r["name"] for r in rows] == ROWS[:3] + ["forward 32x32 b1", ROWS[3]]
    seen = []
    timing, weights = gpu_check.SMOKE.timing, str(tmp_path / "w.npz")
    records = gpu_speed.run_speed(rows, weights, cfg, timing, lambda: 5.0, None, seen.append)
    paths = {"forward": 2, "train": 1, "upscale": 0}  # PATH_VARIANTS on each kind
    want = sum(2 + paths[r["kind"]] for r in rows)
    assert len(records) == want and seen == []  # JAX variants only (no PyTorch device); nothing ran
    assert all(r["status"] == "skipped" and r["reason"].startswith("time budget: 5 s left") for r in records)
    report = {"mode": "gpu", "budget_s": 420.0, "sections": {"speed": {"status": "ok", "result": records}}}
    md = gpu_report.markdown(report)
    assert "- forward 16x16 b1, jax-f32: skipped: time budget: 5 s left, needs ~56 s" in md
    assert gpu_check.passed("speed", records)  # budget-skipped rows are not failures
