"""Tests for esrgan_jax.evaluate: the published bicubic row, and a self-contained run with tiny saved models."""

from __future__ import annotations

import csv
import json

import jax
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio

from esrgan_jax import evaluate as ev
from esrgan_jax.errors import run_cli
from esrgan_jax.image import bicubic_downscale, imresize, read_uint8, write_image
from esrgan_jax.models import LPIPS, SRCNN, RRDBNet
from esrgan_jax.models.lpips import lpips_distance
from esrgan_jax.models.store import save_model
from esrgan_jax.scoring import metrics
from testkit.flax_models import random_params
from tests.support import SHARED_DATA

# ESRGAN paper (supplementary, Table 2), bicubic x4: PSNR-Y / SSIM-Y.
PUBLISHED = {"Set5": (28.42, 0.8104), "Set14": (26.00, 0.7027), "B100": (25.96, 0.6675)}


@pytest.mark.skipif(not (SHARED_DATA / "benchmarks").is_dir(), reason=f"no shared data at {SHARED_DATA}")
def test_bicubic_reproduces_published_row_and_reference_scores(tmp_path):
    sets = [str(SHARED_DATA / "benchmarks" / name) for name in PUBLISHED]
    summary = ev.evaluate(sets, ["bicubic"], tmp_path, save_images=False, progress=False)
    with open(SHARED_DATA / "bicubic_x4_reference.tsv") as f:
        ref = {(r["set"], r["image"]): r for r in csv.DictReader(f, delimiter="\t")}
    with open(tmp_path / "per_image.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 + 14 + 100
    for row in rows:  # the tsv is rounded to 4 (PSNR) and 5 (SSIM) decimals
        want = ref[(row["dataset"], row["image"])]
        assert float(row["psnr_y"]) == pytest.approx(float(want["psnr_y"]), abs=6e-5), row
        assert float(row["ssim_y"]) == pytest.approx(float(want["ssim_y"]), abs=6e-6), row
        assert float(row["psnr_rgb"]) == pytest.approx(float(want["psnr_rgb"]), abs=6e-5), row
    for name, (psnr_y, ssim_y) in PUBLISHED.items():
        got = summary["results"]["bicubic"][name]
        assert got["n"] == sum(1 for key in ref if key[0] == name)
        assert got["psnr_y"] == pytest.approx(psnr_y, abs=0.02)
        assert got["ssim_y"] == pytest.approx(ssim_y, abs=0.002)
        set_rows = [r for key, r in ref.items() if key[0] == name]
        assert got["psnr_y"] == pytest.approx(np.mean([float(r["psnr_y"]) for r in set_rows]), abs=1e-4)
        assert got["ssim_y"] == pytest.approx(np.mean([float(r["ssim_y"]) for r in set_rows]), abs=1e-5)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """An HR-only folder of three 48x40 crops (one grayscale) and tiny RRDBNet, SRCNN and LPIPS model dirs."""
    root = tmp_path_factory.mktemp("toy")
    (root / "Toy").mkdir()
    img = skdata.astronaut()
    write_image(root / "Toy" / "a.png", img[100:148, 180:220])
    write_image(root / "Toy" / "b.png", img[300:348, 250:290])
    write_image(root / "Toy" / "c.png", img[20:68, 60:100, 1:2])
    hp = dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=8, num_block=1, num_grow_ch=8)
    rrdb = RRDBNet(**hp)
    save_model(root / "rrdb", "rrdbnet", hp, {"params": random_params(rrdb, 1, np.zeros((1, 8, 8, 3)))})
    srcnn_hp = dict(num_channels=3, scale=4, filters=(8, 4), kernels=(9, 5, 5))
    srcnn = SRCNN(**srcnn_hp)
    save_model(root / "srcnn", "srcnn", srcnn_hp, {"params": random_params(srcnn, 2, np.zeros((1, 16, 16, 3)))})
    lp_params = random_params(LPIPS(), 3, *[np.zeros((1, 32, 32, 3))] * 2)
    save_model(root / "lpips", "lpips", {}, {"params": lp_params})
    return root, rrdb, srcnn, lp_params


def test_evaluate_writes_every_output_with_consistent_numbers(toy, tmp_path):
    root, rrdb, srcnn, lp_params = toy
    methods = ["bicubic", f"rrdb={root / 'rrdb'}", f"srcnn={root / 'srcnn'}"]
    summary = ev.evaluate([str(root / "Toy")], methods, tmp_path, lpips=root / "lpips", progress=False)
    assert set(summary) == {"scale", "results"} and summary["scale"] == 4
    assert list(summary["results"]) == ["bicubic", "rrdb", "srcnn"]
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    with open(tmp_path / "per_image.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["method"], r["image"]) for r in rows[:3]] == [("bicubic", "a"), ("rrdb", "a"), ("srcnn", "a")]
    assert len(rows) == 9
    for name in "abc":
        hr = read_uint8(root / "Toy" / f"{name}.png")
        lr = bicubic_downscale(hr, 4)
        x = lr.astype(np.float32)[None] / 255.0
        x3 = np.repeat(x, 3, -1) if x.shape[-1] == 1 else x
        outputs = {
            "bicubic": imresize(lr, 4.0),
            "rrdb": rrdb.apply({"params": ev_params(root / "rrdb")}, x3)[0],
            "srcnn": srcnn.apply({"params": ev_params(root / "srcnn")}, imresize(x3[0], 4.0)[None])[0],
        }
        for method, want in outputs.items():
            got = read_uint8(tmp_path / "images" / "Toy" / method / f"{name}.png")
            if method != "bicubic":  # gray runs as gray RGB and comes back as BT.601 gray, like Real-ESRGAN
                want = np.clip(np.asarray(want), 0, 1) @ (
                    np.array([[0.299], [0.587], [0.114]]) if lr.shape[-1] == 1 else np.eye(3)
                )
                want = np.round(want * 255.0)
            assert np.abs(got.astype(np.float64) - want).max() <= 1.0, (method, name)
            row = next(r for r in rows if (r["method"], r["image"]) == (method, name))
            crop = (slice(4, -4), slice(4, -4))
            assert float(row["psnr_rgb"]) == pytest.approx(peak_signal_noise_ratio(hr[crop], got[crop]), abs=1e-9)
            want_lp = lpips_ref(lp_params, *(np.repeat(v, 3 // v.shape[-1], -1) / 255.0 for v in (got, hr)))
            assert float(row["lpips"]) == pytest.approx(float(want_lp), abs=1e-6)
    for method in ("bicubic", "rrdb", "srcnn"):
        mine = [r for r in rows if r["method"] == method]
        assert summary["results"][method]["Toy"]["psnr_y"] == pytest.approx(np.mean([float(r["psnr_y"]) for r in mine]))
        assert summary["results"][method]["Toy"]["n"] == 3
    md = (tmp_path / "summary.md").read_text()
    assert "| Method | Toy (3) |" in md and "| rrdb | " in md and "LPIPS (VGG16" in md
    assert Image.open(tmp_path / "grid_Toy.png").size == (1560, 330)  # 6 panels: overview, LR, 3 methods, HR


lpips_ref = jax.jit(lambda params, a, b: lpips_distance(LPIPS(), params, a, b))


def test_lpips_scorer_released_scores_the_same_again(toy):
    root, _, _, lp_params = toy
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (40, 36, 3), dtype=np.uint8) for _ in range(2))
    want = float(lpips_ref(lp_params, a / 255.0, b / 255.0))
    scorer = metrics.lpips_scorer(root / "lpips")
    assert scorer(a, b) == pytest.approx(want, abs=1e-6)
    scorer.release()  # between validations: nothing compiled and no weights left on the device
    assert scorer._apply._cache_size() == 0 and scorer._params is None
    assert scorer(a, b) == pytest.approx(want, abs=1e-6)


def test_tfds_source_is_evaluated_and_its_name_made_path_safe(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    hrs = [skdata.astronaut()[:64, :48], skdata.chelsea()[:48, :64]]

    def source(self, *args, **kwargs):  # the mock's own lr/hr are random sizes, not 4x apart
        return [{"lr": bicubic_downscale(h, 4), "hr": h} for h in hrs]

    with tfds.testing.mock_data(as_data_source_fn=source, policy=tfds.testing.MockPolicy.USE_CODE):
        summary = ev.evaluate(["tfds:div2k/bicubic_x4:validation"], ["bicubic"], tmp_path, progress=False)
    assert summary["results"]["bicubic"]["div2k/bicubic_x4"]["n"] == 2
    assert (tmp_path / "grid_div2k_bicubic_x4.png").is_file()
    crop = (slice(4, -4), slice(4, -4))
    want = [peak_signal_noise_ratio(h[crop], imresize(bicubic_downscale(h, 4), 4.0)[crop]) for h in hrs]
    got = summary["results"]["bicubic"]["div2k/bicubic_x4"]["psnr_rgb"]
    assert got == pytest.approx(np.mean(want), abs=1e-9)
    assert len(list((tmp_path / "images" / "div2k_bicubic_x4" / "bicubic").glob("*.png"))) == 2


def ev_params(path):
    from esrgan_jax.models.store import load_generator

    return load_generator(path)[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "esrgan"], "error: --method 'esrgan': expected 'bicubic' or NAME=CHECKPOINT"),
        (["--method", "x=/no/such/model"], "error: /no/such/model: no such model directory"),
        (["--method", "bicubic", "--data", "/no/such/set"], "error: /no/such/set: no such folder"),
        (["--method", "bicubic", "--method", "bicubic"], "error: method names must differ: bicubic, bicubic"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(toy, tmp_path, capsys, argv, message):
    root = toy[0]
    if "--data" not in argv:
        argv = [*argv, "--data", str(root / "Toy")]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: ev.main([*argv, "--out", str(tmp_path / "out")]))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "out" / "summary.json").exists()


def test_skip_bad_leaves_out_an_unreadable_image_and_counts_the_rest(toy, tmp_path, capsys):
    root = toy[0]
    data = tmp_path / "Mixed"
    data.mkdir()
    for name in "ab":
        (data / f"{name}.png").write_bytes((root / "Toy" / f"{name}.png").read_bytes())
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: ev.main(["--data", str(data), "--method", "bicubic", "--out", str(tmp_path / "o1")]))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "broken.png" in err and "\n" not in err
    with pytest.warns(UserWarning, match="broken.png"):
        summary = ev.evaluate([str(data)], ["bicubic"], tmp_path / "o2", progress=False, skip_bad=True)
    assert summary["results"]["bicubic"]["Mixed"]["n"] == 2
