"""esrgan_jax/architectures/swinir (model, blocks, torch_keys): SwinIR against spandrel's SwinIR (the official
class, the independent PyTorch oracle), on random weights of every upsampler: converted from `.pth` (params /
params_ema) and `.safetensors` with every hyper-parameter read from the tensors, equal within 1e-4 on non-square
inputs whose sides are not multiples of the window; exported back bit for bit with the official buffers, in the
official key order, and loaded by spandrel as SwinIR; refusals in one line; tiles aligned to the window.

The random models come from the `random_swinir` fixture (tests/architectures/conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from esrgan_jax import Upscaler, load_generator
from esrgan_jax.errors import UserError
from testkit.torch_models import nhwc_forward
from weights_conversion import convert_file
from weights_conversion.export import export_model

# spandrel's SwinIR arguments: small versions of each official model kind.
SHAPES = {
    "lightweight-x4": dict(upsampler="pixelshuffledirect", upscale=4, embed_dim=12, depths=[2, 2], num_heads=[2, 3],
                           window_size=8, mlp_ratio=2.0),
    "classical-x2": dict(upsampler="pixelshuffle", upscale=2, embed_dim=12, depths=[2, 2], num_heads=[3, 3],
                         window_size=8, mlp_ratio=2.0),
    "classical-x4-s48": dict(upsampler="pixelshuffle", upscale=4, embed_dim=12, depths=[2], num_heads=[2],
                             window_size=8, mlp_ratio=2.0, img_size=48),
    "classical-x3-3conv-w4": dict(upsampler="pixelshuffle", upscale=3, embed_dim=16, depths=[3], num_heads=[4],
                                  window_size=4, mlp_ratio=1.5, resi_connection="3conv"),
    "real-x4-3conv": dict(upsampler="nearest+conv", upscale=4, embed_dim=16, depths=[2, 2], num_heads=[2, 2],
                          window_size=8, mlp_ratio=2.0, resi_connection="3conv"),
    "real-x2": dict(upsampler="nearest+conv", upscale=2, embed_dim=12, depths=[2], num_heads=[3], window_size=8),
    "jpeg-x1-gray": dict(upsampler="", upscale=1, embed_dim=12, depths=[2], num_heads=[2], window_size=7,
                         in_chans=1, img_range=255.0, img_size=28),
    "lightweight-x1": dict(upsampler="pixelshuffledirect", upscale=1, embed_dim=12, depths=[1], num_heads=[2],
                           window_size=8),
}  # fmt: skip


def jax_sr(mdir, x: np.ndarray) -> np.ndarray:
    module, params = load_generator(mdir)
    return np.asarray(module.apply({"params": params}, x))


@pytest.mark.parametrize("name", SHAPES)
def test_converted_pth_equals_spandrel(tmp_path, random_swinir, name):
    kwargs = SHAPES[name]
    model = random_swinir(0, **kwargs)
    torch.save({"params": model.state_dict()}, tmp_path / "s.pth")
    done = convert_file(tmp_path / "s.pth", tmp_path / "out")
    assert (done.kind, done.layout, done.wrapper) == ("swinir", "swinir", "params")
    want_hparams = {
        "in_chans": kwargs.get("in_chans", 3), "embed_dim": kwargs["embed_dim"], "depths": kwargs["depths"],
        "num_heads": kwargs["num_heads"], "window_size": kwargs["window_size"],
        "mlp_ratio": kwargs.get("mlp_ratio", 4.0), "upsampler": kwargs["upsampler"],
        "resi_connection": kwargs.get("resi_connection", "1conv"), "scale": kwargs["upscale"],
        "img_range": kwargs.get("img_range", 1.0), "num_feat": 64, "img_size": kwargs.get("img_size", 64),
    }  # fmt: skip
    assert done.hparams == want_hparams
    assert done.num_params == sum(p.numel() for p in model.parameters())
    c, s = want_hparams["in_chans"], kwargs["upscale"]
    x = np.random.default_rng(1).random((2, 13, 21, c), dtype=np.float32)  # not multiples of 7 or 8
    want = nhwc_forward(model, x)
    got = jax_sr(tmp_path / "out", x)
    assert got.shape == (2, 13 * s, 21 * s, c)
    assert np.abs(want - x.repeat(s, 1).repeat(s, 2)).mean() > 0.05  # far more than the tolerance
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_safetensors_and_params_ema(tmp_path, random_swinir):
    from safetensors.torch import save_file

    kwargs = SHAPES["lightweight-x4"]
    model = random_swinir(3, **kwargs)
    save_file(model.state_dict(), tmp_path / "s.safetensors")
    other = random_swinir(4, **kwargs)
    torch.save({"params_ema": model.state_dict(), "params": other.state_dict()}, tmp_path / "s.pth")
    x = np.random.default_rng(2).random((1, 9, 17, 3), dtype=np.float32)
    want = nhwc_forward(model, x)
    for name in ("s.safetensors", "s.pth"):  # the EMA weights are the ones converted
        convert_file(tmp_path / name, tmp_path / name.replace(".", "_"))
        np.testing.assert_allclose(jax_sr(tmp_path / name.replace(".", "_"), x), want, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", ["classical-x4-s48", "real-x4-3conv"])
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_round_trip_is_bit_exact_and_spandrel_loads_the_export(tmp_path, spandrel, random_swinir, name, suffix):
    kwargs = SHAPES[name]
    sd = random_swinir(5, **kwargs).state_dict()
    torch.save({"params": sd}, tmp_path / "s.pth")
    convert_file(tmp_path / "s.pth", tmp_path / "model")
    done = export_model(tmp_path / "model", tmp_path / f"back{suffix}")
    assert (done.kind, done.layout, done.key) == ("swinir", "swinir", "params" if suffix == ".pth" else None)
    if suffix == ".pth":
        back = torch.load(tmp_path / "back.pth", weights_only=True)["params"]
        assert list(back) == list(sd)  # the same keys in the same order, the buffers included
        assert all(torch.equal(back[k], sd[k]) and back[k].dtype == sd[k].dtype for k in sd)
    descriptor = spandrel.ModelLoader().load_from_file(tmp_path / f"back{suffix}")
    assert descriptor.architecture.id == "SwinIR" and descriptor.scale == kwargs["upscale"]
    assert f"s{kwargs.get('img_size', 64)}w8" in descriptor.tags  # img_size read back from the attn_mask buffers
    x = np.random.default_rng(3).random((1, 10, 19, 3), dtype=np.float32)
    np.testing.assert_allclose(
        nhwc_forward(descriptor.model.eval(), x), jax_sr(tmp_path / "model", x), rtol=0, atol=1e-4
    )


def test_refusals_name_the_key(tmp_path, random_swinir):
    sd = random_swinir(6, **SHAPES["real-x4-3conv"]).state_dict()
    cases = {
        "x8": ({**sd, "conv_up3.weight": sd["conv_up2.weight"], "conv_up3.bias": sd["conv_up2.bias"]},
               "a nearest+conv SwinIR x8 (conv_up3): only scales 1 to 4 convert"),
        "index": ({**sd, "layers.1.residual_group.blocks.0.attn.relative_position_index":
                   torch.zeros(64, 64, dtype=torch.int64)},
                  "layers.1.residual_group.blocks.0.attn.relative_position_index is not the standard relative "
                  "position index of a (64, 64) window"),
        "not-swinir": ({"conv_first.weight": sd["conv_first.weight"], "body.0.weight": sd["conv_first.weight"]},
                       "not a SwinIR checkpoint (no 'layers.0.residual_group.blocks.0.norm1.weight'); keys: "
                       "conv_first.weight, body.0.weight"),
        "unshuffle": ({**{k: v for k, v in sd.items() if not k.startswith("conv_first.")},
                       "conv_first.1.weight": sd["conv_first.weight"], "conv_first.1.bias": sd["conv_first.bias"]},
                      "a SwinIR with pixel-unshuffled input or absolute position embedding does not convert"),
    }  # fmt: skip
    for name, (state, message) in cases.items():
        torch.save(state, tmp_path / f"{name}.pth")
        with pytest.raises(UserError) as e:
            convert_file(tmp_path / f"{name}.pth", tmp_path / name, kind="swinir")
        assert str(e.value) == f"{tmp_path / f'{name}.pth'}: {message}"


def test_tiles_align_to_the_window(tmp_path, random_swinir):
    # Two Swin blocks of window 4 and a few convs see a few pixels around each window: well inside the default
    # 64-pixel overlap. With tiles that start on multiples of the window, each tile's windows are windows of the
    # whole image, so the output is the same; deep models reach further (docs/architectures.md, "SwinIR tiling").
    torch.save(random_swinir(7, **SHAPES["classical-x3-3conv-w4"]).state_dict(), tmp_path / "s.pth")
    convert_file(tmp_path / "s.pth", tmp_path / "model")
    rng = np.random.default_rng(8)
    yy, xx = np.mgrid[0:203, 0:185] / 20.0
    base = np.stack([np.sin(yy * 3), np.cos(xx * 2), np.sin(xx + yy)], -1) * 0.4 + 0.5
    image = np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1).astype(np.float32)
    whole = Upscaler(tmp_path / "model", tile=0).upscale(image)
    tiled = Upscaler(tmp_path / "model", tile=40, tile_pad=30).upscale(image)  # rounded up to 40 and 32
    assert tiled.shape == whole.shape == (609, 555, 3)
    np.testing.assert_array_equal(tiled, whole)
