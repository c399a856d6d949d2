"""Tests for esrgan_jax.inference (Upscaler, tiling): tiled == whole-image inference, one compile for any image size,
every image kind against the network applied by hand, SRCNN pre-upsampling, network interpolation, the built-in
model when no weights are given."""

from __future__ import annotations

from itertools import pairwise

import jax
import numpy as np
import pytest

from esrgan_jax.architectures.swinir.model import MEMORY_BUDGET_MIB
from esrgan_jax.errors import UserError
from esrgan_jax.image.color import rgb_to_ycbcr, ycbcr_to_rgb
from esrgan_jax.image.resize import imresize
from esrgan_jax.inference.compiled import FORWARD
from esrgan_jax.inference.tiling import axis_windows
from esrgan_jax.inference.upscaler import Upscaler
from esrgan_jax.models import SRCNN, build_model
from esrgan_jax.models.store import load_generator, save_model
from esrgan_jax.weights import builtin_dir, size_bytes
from tests.support import BT601, HP, by_hand, psnr, random_params, tiny


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    # smooth content plus noise: a photo-like mix where seams would show
    yy, xx = np.mgrid[0:45, 0:38] / 20.0
    base = np.stack([np.sin(yy * 3), np.cos(xx * 2), np.sin(xx + yy)], -1) * 0.4 + 0.5
    return np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1).astype(np.float32)


@pytest.mark.parametrize(
    "size, tile, pad, multiple",
    [(50, 16, 4, 1), (1080, 384, 48, 1), (1921, 384, 48, 1), (104, 8, 12, 4), (300, 128, 0, 2)],
)
def test_axis_windows_cover_and_keep_context(size, tile, pad, multiple):
    plan = axis_windows(size, tile, pad, multiple)
    window = tile + 2 * pad
    assert len(plan) == -(-(size - 2 * pad) // tile)  # as few windows as keep the context
    assert plan[0][1] == 0 and plan[-1][2] == size and all(a[2] == b[1] for a, b in pairwise(plan))
    for start, c0, c1 in plan:
        assert 0 <= start and start + window <= size and start % multiple == 0  # one shape, inside, on the grid
        assert start <= c0 < c1 <= start + window
        assert c0 - start >= pad or start == 0  # context before the core, unless at the image border
        assert start + window - c1 >= pad or start + window == size


@pytest.mark.parametrize("num_block", [1, 3])
def test_tiled_matches_whole_image(image, num_block):
    module, params = tiny(num_block=num_block)
    whole = Upscaler((module, params), tile=0).upscale(image)
    np.testing.assert_allclose(whole, by_hand(module, params, image), atol=1e-5)
    # 3 x 3 tiles in batches of 4: the last batch is filled up. The default tile_pad (64, sized for a trained
    # 23-block model) would make one window of this image; these tiny random models need far less
    tiled = Upscaler((module, params), tile=16, tile_pad=10, tile_batch=4).upscale(image)
    assert psnr(tiled, whole) >= 50.0
    # without overlap the seams are visible: the comparison above can fail
    assert psnr(Upscaler((module, params), tile=16, tile_pad=0).upscale(image), whole) < 50.0


def test_compiles_once_for_any_image_at_least_one_window_large(image):
    FORWARD.clear()  # the compiled forward is shared by the process: start from nothing compiled
    up = Upscaler(tiny(), tile=12, tile_pad=4, tile_batch=2)  # windows of 20x20
    for img in (image, image[:20, :33], (image[:30, :21] * 255).astype(np.uint8)):
        out = up.upscale(img)
        assert out.shape == (img.shape[0] * 4, img.shape[1] * 4, 3) and out.dtype == img.dtype
    assert up.compilations == 1 and len(FORWARD) == 1


def test_image_smaller_than_a_window_comes_out_as_whole_image_inference(image):
    """No reflect padding up to the window: along a short axis the window is the whole axis."""
    module, params = tiny()
    FORWARD.clear()
    up = Upscaler((module, params), tile=12, tile_pad=4)
    for img in (image[:5, :7], image[:17, :19]):
        np.testing.assert_allclose(up.upscale(img), by_hand(module, params, img), atol=1e-6)
    assert up.compilations == 2  # one per window shape


def test_equal_architectures_share_compiles_and_the_cache_is_bounded(image):
    """A fine-tune (other params, equal module) reuses the converted model's executable; beyond the capacity the
    shared cache is cleared, and a shape met again is compiled again, with the same output."""
    module, params = tiny()
    other = tiny(seed=1)[1]
    FORWARD.clear()
    first, second = Upscaler((module, params), tile=0), Upscaler((tiny()[0], other), tile=0)
    img = image[:10, :11]
    np.testing.assert_allclose(second.upscale(img), by_hand(module, other, img), atol=1e-6)
    first.upscale(img)
    assert (second.compilations, first.compilations, len(FORWARD)) == (1, 0, 1)
    capacity = FORWARD.capacity
    for i in range(capacity):  # capacity more shapes: the first one is dropped with the rest at the last
        first.upscale(image[: 11 + i, :11])
    assert first.compilations == capacity and len(FORWARD) == 1
    np.testing.assert_allclose(first.upscale(img), by_hand(module, params, img), atol=1e-6)
    assert first.compilations == capacity + 1 and len(FORWARD) == 2


@pytest.mark.parametrize("scale", [2, 1])
def test_pixel_unshuffle_models_tile_and_pad_odd_sizes(image, scale):
    module, params = tiny(scale=scale)
    img = np.tile(image, (3, 3, 1))[:101, :99]  # odd sizes: padded to a multiple of 4 // scale, cropped back
    whole = Upscaler((module, params), tile=0).upscale(img)
    assert whole.shape == (101 * scale, 99 * scale, 3)
    m = 4 // scale
    ref = by_hand(module, params, np.pad(img, ((0, -101 % m), (0, -99 % m), (0, 0)), mode="reflect"))
    np.testing.assert_allclose(whole, ref[: 101 * scale, : 99 * scale], atol=1e-5)
    # tile and pad are rounded up to multiples of 4 // scale so windows stay on the pixel-unshuffle grid;
    # the pad counts in the network's (unshuffled) resolution
    assert psnr(Upscaler((module, params), tile=7, tile_pad=10).upscale(img), whole) >= 50.0


def test_bfloat16_compute_stays_close_to_float32(image):
    module, params = tiny()
    ref = Upscaler((module, params), tile=16, tile_pad=10).upscale(image)
    out = Upscaler((module, params), tile=16, tile_pad=10, dtype="bfloat16").upscale(image)
    assert out.dtype == np.float32 and 30.0 < psnr(out, ref) < 80.0  # bf16 has 8 bits of mantissa: close, not equal


def test_uint8_uint16_gray_and_alpha_kinds(image):
    module, params = tiny()
    up = Upscaler((module, params), tile=16, tile_pad=10)
    rgb8 = np.rint(image * 255).astype(np.uint8)
    ref = by_hand(module, params, rgb8 / 255.0)
    out8 = up.upscale(rgb8)
    assert out8.dtype == np.uint8 and np.abs(out8.astype(int) - np.rint(ref * 255)).max() <= 1

    rgb16 = np.rint(image * 65535).astype(np.uint16)
    out16 = up.upscale(rgb16)
    ref16 = np.rint(by_hand(module, params, rgb16 / 65535.0) * 65535)
    assert out16.dtype == np.uint16 and np.abs(out16.astype(int) - ref16).max() <= 2

    gray = rgb8[..., 0]
    out_gray = up.upscale(gray)
    ref_gray = np.rint(by_hand(module, params, np.repeat(gray[..., None] / 255.0, 3, -1)) @ BT601 * 255)
    assert out_gray.shape == (180, 152) and np.abs(out_gray.astype(int) - ref_gray).max() <= 1
    assert up.upscale(gray[..., None]).shape == (180, 152, 1)

    rgba = np.concatenate([rgb8, rgb8[..., 1:2]], -1)
    out_rgba = up.upscale(rgba)
    np.testing.assert_array_equal(out_rgba[..., :3], out8)
    np.testing.assert_array_equal(out_rgba[..., 3], up.upscale(rgb8[..., 1]))
    bicubic = Upscaler((module, params), tile=16, tile_pad=10, alpha_upsampler="bicubic").upscale(rgba)[..., 3]
    want = np.rint(np.clip(imresize(rgb8[..., 1] / np.float32(255), 4).astype(np.float64), 0, 1) * 255)
    np.testing.assert_array_equal(bicubic, want)


def test_outscale_resizes_the_model_output(image):
    module, params = tiny()
    up = Upscaler((module, params), tile=0)
    out = up.upscale(image, outscale=2.5)
    assert out.shape == (112, 95, 3)  # round(45 * 2.5), round(38 * 2.5)
    ref = np.clip(imresize(by_hand(module, params, image), output_shape=(112, 95)), 0, 1)
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_srcnn_upsamples_with_bicubic_first(tmp_path, image):
    module = SRCNN(scale=3, filters=(8, 4), kernels=(5, 3, 3))
    params = random_params(module, 1, np.zeros((1, 8, 8, 3), np.float32))
    save_model(tmp_path / "srcnn", "srcnn", dict(scale=3, filters=[8, 4], kernels=[5, 3, 3]), {"params": params})
    out = Upscaler(tmp_path / "srcnn", tile=32).upscale(image)
    assert out.shape == (135, 114, 3)
    ref = by_hand(module, params, imresize(image, 3))
    assert psnr(out, ref) >= 50.0


def test_one_channel_srcnn_sees_luma_and_chroma_is_bicubic(tmp_path, image):
    module = SRCNN(num_channels=1, scale=2, filters=(8, 4), kernels=(5, 3, 3))
    params = random_params(module, 2, np.zeros((1, 8, 8, 1), np.float32))
    hp = dict(num_channels=1, scale=2, filters=[8, 4], kernels=[5, 3, 3])
    save_model(tmp_path / "srcnn_y", "srcnn", hp, {"params": params})
    out = Upscaler(tmp_path / "srcnn_y", tile=32).upscale(image)
    ycc = rgb_to_ycbcr(image)
    y = np.asarray(jax.jit(module.apply)({"params": params}, imresize(ycc[..., :1], 2.0)[None]))[0]
    ref = np.clip(ycbcr_to_rgb(np.concatenate([y, imresize(ycc[..., 1:], 2.0)], -1)), 0, 1)
    assert out.shape == (90, 76, 3)
    assert psnr(out, ref) >= 50.0
    # a gray image goes straight through the one-channel model
    gray = Upscaler(tmp_path / "srcnn_y", tile=32).upscale(image[..., 0])
    assert gray.shape == (90, 76) and psnr(gray, by_hand(module, params, imresize(image[..., :1], 2.0))[..., 0]) >= 50


def test_interpolation_equals_manual_blend(tmp_path, image):
    (ma, pa), (_, pb) = tiny(0), tiny(1)
    save_model(tmp_path / "a", "rrdbnet", HP, {"params": pa})
    save_model(tmp_path / "b", "rrdbnet", HP, {"params": pb})
    blended = Upscaler(tmp_path / "a", weights_b=tmp_path / "b", alpha=0.3, tile=0).upscale(image)
    manual = jax.tree.map(lambda a, b: 0.7 * a + 0.3 * b, pa, pb)
    np.testing.assert_allclose(blended, by_hand(ma, manual, image), atol=1e-5)
    assert psnr(blended, by_hand(ma, pa, image)) < 50.0  # the blend really moved away from A

    save_model(tmp_path / "c", "rrdbnet", {**HP, "num_feat": 16}, {"params": tiny(num_feat=16)[1]})
    with pytest.raises(UserError, match=r"a and .*c differ in hyper-parameter 'num_feat': 8 vs 16"):
        Upscaler(tmp_path / "a", weights_b=tmp_path / "c")


def test_bad_arguments_are_user_errors(image):
    with pytest.raises(UserError, match=r"image shape \(4, 4, 2\): expected"):
        Upscaler(tiny(), tile=0).upscale(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(UserError, match="image dtype int32: expected uint8, uint16 or float"):
        Upscaler(tiny(), tile=0).upscale(np.zeros((4, 4, 3), np.int32))
    with pytest.raises(UserError, match="dtype 'float16': expected one of float32, bfloat16"):
        Upscaler(tiny(), dtype="float16")


def test_without_weights_the_built_in_model_is_loaded_and_named(capsys, image):
    up = Upscaler()
    size = size_bytes(builtin_dir()) / 1e6
    assert capsys.readouterr().err == (
        f"using the built-in model compact_x4 (compact, x4, {size:.1f} MB); pass weights=DIR for another\n"
    )
    assert (up.meta["kind"], up.scale) == ("compact", 4)
    module, params = load_generator(builtin_dir())  # loaded independently: float16 on disk, float32 here
    assert {x.dtype for x in jax.tree.leaves(params)} == {np.dtype(np.float32)}
    np.testing.assert_allclose(up.upscale(image), by_hand(module, params, image), atol=1e-5)


def test_the_default_tile_is_the_models(image):
    # A SwinIR's attention scores grow with its width and heads: the default tile is the largest whose window
    # (tile + 2 x 32) keeps one forward within the memory budget by the fitted estimate (benchmarks.memory.swinir
    # measured 2155 / 3566 / 5518 MiB for lightweight windows of 384 / 512 / 640, classical 2785 MiB at 320).
    light = {"embed_dim": 60, "depths": (6,) * 4, "num_heads": (6,) * 4, "upsampler": "pixelshuffledirect"}
    classical = {"embed_dim": 180, "depths": (6,) * 6, "num_heads": (6,) * 6, "upsampler": "pixelshuffle"}
    chosen = {}
    for name, hparams in (("light", light), ("classical", classical)):
        module = build_model("swinir", hparams)
        up = Upscaler((module, None))
        chosen[name] = (up.tile, up.tile_pad)
        assert module.forward_mib(up.tile + 64) <= MEMORY_BUDGET_MIB < module.forward_mib(up.tile * 4 // 3 + 64)
    assert chosen == {"light": (384, 32), "classical": (256, 32)}
    assert (Upscaler(tiny()).tile, Upscaler(tiny()).tile_pad) == (512, 64)  # other kinds
    assert (Upscaler(tiny(), tile=96, tile_pad=8).tile, Upscaler(tiny(), tile=96, tile_pad=8).tile_pad) == (96, 8)
