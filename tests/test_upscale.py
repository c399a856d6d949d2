"""Tests for the `python -m esrgan_jax.upscale` CLI: every image kind written back in its kind, EXIF rotation,
existing outputs kept without --overwrite, no temp files, bad inputs named while the others finish (exit 2),
--outscale/--ext/--suffix, network interpolation from the command line, and the built-in model without
--weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from esrgan_jax.errors import run_cli
from esrgan_jax.image.io import read_raw
from esrgan_jax.models.store import load_generator, save_model
from esrgan_jax.upscale import main
from esrgan_jax.weights import builtin_dir, size_bytes
from tests.support import BT601, HP, by_hand, tiny

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    for name, seed in (("a", 0), ("b", 1)):
        save_model(root / name, "rrdbnet", HP, {"params": tiny(seed)[1]})
    save_model(root / "wide", "rrdbnet", {**HP, "num_feat": 16}, {"params": tiny(2, num_feat=16)[1]})
    return root


@pytest.fixture()
def inputs(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    d = tmp_path / "in"
    d.mkdir()
    Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(d / "rgb.png")
    Image.fromarray(rng.integers(0, 256, (9, 11), dtype=np.uint8)).save(d / "gray.png")
    Image.fromarray(rng.integers(0, 256, (8, 13, 4), dtype=np.uint8)).save(d / "rgba.png")
    Image.fromarray(rng.integers(0, 65536, (10, 7), dtype=np.uint16)).save(d / "deep.png")  # 16-bit gray PNG
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 20 wide x 12 high, displayed rotated 90 degrees clockwise: 12 wide x 20 high
    Image.fromarray(rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)).save(d / "rotated.jpg", exif=exif)
    return d


def cli(capsys, *argv) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        run_cli(lambda: main([str(a) for a in argv] + ["--no-progress"]))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def test_every_kind_is_written_back_in_its_kind(capsys, models, inputs, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = cli(capsys, inputs, "--weights", models / "a", "-o", out, "--tile", 0)
    assert code == 0, err
    assert "upscaled 5 image(s)" in stdout and "0 skipped, 0 failed" in stdout
    names = {"rgb_out.png", "gray_out.png", "rgba_out.png", "deep_out.png", "rotated_out.jpg"}
    assert set(os.listdir(out)) == names  # and no temporary files left behind
    with Image.open(out / "rgb_out.png") as im:
        assert (im.mode, im.size) == ("RGB", (40, 48))
        rgb = np.asarray(im).astype(int)
    module, params = tiny(0)
    src = np.asarray(Image.open(inputs / "rgb.png")) / 255.0
    assert np.abs(rgb - np.rint(by_hand(module, params, src) * 255)).max() <= 1
    with Image.open(out / "gray_out.png") as im:
        assert (im.mode, im.size) == ("L", (44, 36))
    with Image.open(out / "rgba_out.png") as im:
        assert (im.mode, im.size) == ("RGBA", (52, 32))
    deep, info = read_raw(out / "deep_out.png")
    assert deep.dtype == np.uint16 and deep.shape == (40, 28, 1) and info.bit_depth == 16
    src16 = np.asarray(Image.open(inputs / "deep.png")).astype(np.float64)[..., None] / 65535
    ref16 = np.rint(by_hand(module, params, np.repeat(src16, 3, -1)) @ BT601 * 65535)
    assert np.abs(deep[..., 0].astype(int) - ref16).max() <= 2  # 16 bits really carried through
    with Image.open(out / "rotated_out.jpg") as im:
        assert im.size == (48, 80)  # EXIF orientation applied: 12x20 displayed -> 48x80


def test_existing_output_is_kept_unless_overwrite(capsys, models, inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "rgb_out.png").write_bytes(b"keep me")
    code, stdout, err = cli(capsys, inputs / "rgb.png", "--weights", models / "a", "-o", out)
    assert code == 0 and (out / "rgb_out.png").read_bytes() == b"keep me"
    assert f"skip: {out / 'rgb_out.png'} exists (use --overwrite to replace it)" in err
    assert "upscaled 0 image(s)" in stdout and "1 skipped" in stdout
    code, stdout, _ = cli(capsys, inputs / "rgb.png", "--weights", models / "a", "-o", out, "--overwrite")
    assert code == 0 and read_raw(out / "rgb_out.png")[0].shape == (48, 40, 3)
    assert os.listdir(out) == ["rgb_out.png"]


def test_bad_inputs_are_named_and_the_others_finish(models, inputs, tmp_path):
    (inputs / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    args = [inputs / "rgb.png", inputs / "broken.png", tmp_path / "missing.png", inputs / "gray.png"]
    proc = subprocess.run(
        [sys.executable, "-m", "esrgan_jax.upscale", *map(str, args), "--weights", str(models / "a"), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert sorted(os.listdir(out)) == ["gray_out.png", "rgb_out.png"]
    assert f"error: {inputs / 'broken.png'}: is a text file, not an image\n" in proc.stderr
    assert f"error: {tmp_path / 'missing.png'}: no such file or match" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "upscaled 2 image(s)" in proc.stdout and "2 failed" in proc.stdout


def test_outscale_ext_suffix_and_globs(capsys, models, inputs, tmp_path):
    out = tmp_path / "out"
    pattern = str(inputs / "r*.png")  # rgb.png and rgba.png; rgb.png also given directly: processed once
    code, stdout, _ = cli(
        capsys, pattern, inputs / "rgb.png", "--weights", models / "a", "-o", out, "--outscale", 2.5, "--ext", "jpg",
        "--suffix", "x", "--alpha-upsampler", "bicubic",
    )  # fmt: skip
    assert code == 0 and "upscaled 2 image(s)" in stdout
    assert sorted(os.listdir(out)) == ["rgb_x.jpg", "rgba_x.png"]  # alpha forces PNG, as in Real-ESRGAN
    with Image.open(out / "rgb_x.jpg") as im:
        assert im.size == (25, 30)  # round(10 * 2.5) x round(12 * 2.5)
    with Image.open(out / "rgba_x.png") as im:
        assert (im.mode, im.size) == ("RGBA", (32, 20))  # round(13 * 2.5) = 32 (half to even), 8 * 2.5


def test_network_interpolation_from_the_command_line(capsys, models, inputs, tmp_path):
    out = tmp_path / "out"
    args = [inputs / "rgb.png", "--weights", models / "a", "--weights-b", models / "b", "--alpha", 0.25, "-o", out]
    code, _, err = cli(capsys, *args, "--tile", 0)
    assert code == 0, err
    (ma, pa), (_, pb) = tiny(0), tiny(1)
    blend = jax.tree.map(lambda a, b: 0.75 * a + 0.25 * b, pa, pb)
    src = np.asarray(Image.open(inputs / "rgb.png")) / 255.0
    ref = np.rint(by_hand(ma, blend, src) * 255)
    assert np.abs(read_raw(out / "rgb_out.png")[0].astype(int) - ref).max() <= 1

    code, _, err = cli(capsys, inputs / "rgb.png", "--weights", models / "a", "--weights-b", models / "wide", "-o", out)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: {models / 'a'} and {models / 'wide'} differ in hyper-parameter 'num_feat'")


def test_missing_weights_is_one_line(capsys, inputs, tmp_path):
    code, _, err = cli(capsys, inputs, "--weights", tmp_path / "nope", "-o", tmp_path / "out")
    assert (code, err) == (2, f"error: {tmp_path / 'nope'}: no such model directory (convert one with "
                               "`python -m weights_conversion`)\n")  # fmt: skip


def test_without_weights_the_built_in_model_runs_and_is_named(capsys, inputs, tmp_path):
    module, params = load_generator(builtin_dir())
    size = size_bytes(builtin_dir()) / 1e6
    code, stdout, err = cli(capsys, inputs / "rgb.png", "-o", tmp_path / "out", "--tile", 0)
    assert code == 0, err
    assert err == f"using the built-in model compact_x4 (compact, x4, {size:.1f} MB); pass --weights for another\n"
    assert stdout.startswith("upscaled 1 image(s) in ")
    lr = read_raw(inputs / "rgb.png")[0] / 255.0
    expected = np.rint(by_hand(module, params, lr) * 255)  # the shipped network, applied by hand
    assert np.abs(read_raw(tmp_path / "out" / "rgb_out.png")[0].astype(int) - expected).max() <= 1
