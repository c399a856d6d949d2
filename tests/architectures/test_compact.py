"""esrgan_jax/architectures/compact (model, torch_keys): SRVGGNetCompact against spandrel's Compact, the independent
PyTorch oracle (chaiNNer's loader, installed with --no-deps), on random weights of every supported shape:
converted from `.pth` (params / params_ema) and `.safetensors`, equal within 1e-5; exported back bit for bit and
detected by spandrel as Compact; tiled upscaling equal to whole-image upscaling at the default tile; the Winograd
path (every m) within 1e-5 too.

The random models come from the `random_compact` fixture (tests/architectures/conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from esrgan_jax import Upscaler, load_generator
from esrgan_jax.errors import UserError
from esrgan_jax.models.store import read_meta
from testkit.torch_models import nhwc_forward
from weights_conversion import convert_file
from weights_conversion.export import export_model


def jax_sr(mdir, x: np.ndarray) -> np.ndarray:
    module, params = load_generator(mdir)
    return np.asarray(module.apply({"params": params}, x))


# (num_in_ch, num_feat, num_conv, scale): every scale, no body conv, a gray model, animevideov3 and general-x4v3.
SHAPES = [
    (3, 16, 2, 4),
    (3, 8, 0, 1),
    (3, 12, 3, 2),
    (3, 16, 1, 3),
    (1, 8, 2, 4),
    (3, 64, 16, 4),
    (3, 64, 32, 4),
]


@pytest.mark.parametrize("shape", SHAPES, ids=["in{}-nf{}-nc{}-x{}".format(*s) for s in SHAPES])
def test_converted_pth_equals_spandrel(tmp_path, random_compact, shape):
    num_in_ch, num_feat, num_conv, scale = shape
    model = random_compact(0, *shape)
    torch.save({"params": model.state_dict()}, tmp_path / "c.pth")  # how Real-ESRGAN ships its compacts
    done = convert_file(tmp_path / "c.pth", tmp_path / "out")
    assert (done.kind, done.layout, done.wrapper) == ("compact", "basicsr", "params")
    hparams = {"num_in_ch": num_in_ch, "num_out_ch": num_in_ch, "num_feat": num_feat, "num_conv": num_conv}
    assert done.hparams == {**hparams, "scale": scale}
    assert done.num_params == sum(p.numel() for p in model.parameters())
    x = np.random.default_rng(1).random((2, 12, 10, num_in_ch), dtype=np.float32)
    want = nhwc_forward(model, x)
    got = jax_sr(tmp_path / "out", x)
    assert got.shape == (2, 12 * scale, 10 * scale, num_in_ch)
    residual = want - x.repeat(scale, 1).repeat(scale, 2)
    assert np.abs(residual).mean() > 0.05  # the network adds far more than the tolerance to the nearest upsampling
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("m", [2, 4, 6])
def test_winograd_path_equals_spandrel(tmp_path, random_compact, m):
    model = random_compact(2, 3, 16, 2, 4)
    torch.save({"params": model.state_dict()}, tmp_path / "c.pth")
    convert_file(tmp_path / "c.pth", tmp_path / "out")
    module, params = load_generator(tmp_path / "out")
    module = module.clone(winograd=m)
    x = np.random.default_rng(m).random((1, 13, 10, 3), dtype=np.float32)
    got = np.asarray(module.apply({"params": module.winograd_params(params)}, x))
    np.testing.assert_allclose(got, nhwc_forward(model, x), rtol=0, atol=1e-5)


def test_safetensors_and_params_ema(tmp_path, random_compact):
    from safetensors.torch import save_file

    model = random_compact(3, num_feat=8, num_conv=2, scale=2)
    save_file(model.state_dict(), tmp_path / "c.safetensors")
    torch.save({"params_ema": model.state_dict(), "params": random_compact(4, 3, 8, 2, 2).state_dict()},
               tmp_path / "c.pth")  # fmt: skip
    x = np.random.default_rng(2).random((1, 9, 11, 3), dtype=np.float32)
    want = nhwc_forward(model, x)
    for name in ("c.safetensors", "c.pth"):  # the EMA weights are the ones converted
        convert_file(tmp_path / name, tmp_path / name.replace(".", "_"))
        np.testing.assert_allclose(jax_sr(tmp_path / name.replace(".", "_"), x), want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_round_trip_is_bit_exact_and_spandrel_detects_compact(tmp_path, spandrel, random_compact, suffix):
    model = random_compact(5, num_feat=16, num_conv=3, scale=3)
    sd = model.state_dict()
    torch.save({"params_ema": sd}, tmp_path / "c.pth")
    convert_file(tmp_path / "c.pth", tmp_path / "model")
    done = export_model(tmp_path / "model", tmp_path / f"back{suffix}")
    assert (done.kind, done.layout, done.key) == ("compact", "basicsr", "params_ema" if suffix == ".pth" else None)
    if suffix == ".pth":
        back = torch.load(tmp_path / "back.pth", weights_only=True)["params_ema"]
        assert list(back) == list(sd)  # the same keys in the same order
        assert all(torch.equal(back[k], sd[k]) and back[k].dtype == sd[k].dtype for k in sd)
    descriptor = spandrel.ModelLoader().load_from_file(tmp_path / f"back{suffix}")
    assert descriptor.architecture.id == "Compact" and descriptor.scale == 3
    assert {"16nf", "3nc"} <= set(descriptor.tags)
    x = np.random.default_rng(3).random((1, 8, 12, 3), dtype=np.float32)
    np.testing.assert_allclose(
        nhwc_forward(descriptor.model.eval(), x), jax_sr(tmp_path / "model", x), rtol=0, atol=1e-5
    )


def test_tiled_equals_whole_image_at_the_default_tile(tmp_path, random_compact):
    torch.save({"params": random_compact(6, num_feat=8, num_conv=4, scale=2).state_dict()}, tmp_path / "c.pth")
    convert_file(tmp_path / "c.pth", tmp_path / "model")
    # Larger than one window (512 + 2 * 64) both ways, and odd: the default tile cuts it into 2 x 2 windows.
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[0:700, 0:661] / 40.0
    base = np.stack([np.sin(yy * 3), np.cos(xx * 2), np.sin(xx + yy)], -1) * 0.4 + 0.5
    image = np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1).astype(np.float32)
    tiled = Upscaler(tmp_path / "model").upscale(image)
    whole = Upscaler(tmp_path / "model", tile=0).upscale(image)
    assert tiled.shape == whole.shape == (1400, 1322, 3)
    # The receptive field (radius num_conv + 2 = 6 LR pixels) lies inside the 64-pixel overlap.
    np.testing.assert_array_equal(tiled, whole)


def test_relu_compacts_and_bad_shapes_are_refused(tmp_path, random_compact):
    sd = random_compact(7, num_feat=8, num_conv=1, scale=4).state_dict()
    relu = {k: v for k, v in sd.items() if not k.startswith(("body.1.", "body.3."))}  # act_type='relu' keys
    torch.save(relu, tmp_path / "relu.pth")
    with pytest.raises(UserError, match=r"relu.pth: unknown checkpoint layout"):
        convert_file(tmp_path / "relu.pth", tmp_path / "out")
    with pytest.raises(UserError) as e:
        convert_file(tmp_path / "relu.pth", tmp_path / "out", kind="compact")
    assert str(e.value) == (
        f"{tmp_path / 'relu.pth'}: no PReLU slopes 'body.1.weight': a compact with ReLU or LeakyReLU activations; "
        "only PReLU compacts (Real-ESRGAN's act_type='prelu') convert"
    )
    odd = dict(sd, **{"body.4.weight": sd["body.4.weight"][:20], "body.4.bias": sd["body.4.bias"][:20]})
    torch.save(odd, tmp_path / "odd.pth")
    with pytest.raises(UserError) as e:
        convert_file(tmp_path / "odd.pth", tmp_path / "out")
    assert str(e.value) == (
        f"{tmp_path / 'odd.pth'}: body.4.weight has 20 output channels; expected num_in_ch (3) x scale**2 for a "
        "scale of 1 to 4"
    )
    assert not (tmp_path / "out").exists()


def test_model_json_names_the_kind(tmp_path, random_compact):
    torch.save(random_compact(8, num_feat=8, num_conv=1).state_dict(), tmp_path / "c.pth")
    convert_file(tmp_path / "c.pth", tmp_path / "model")
    meta = read_meta(tmp_path / "model")
    assert meta["kind"] == "compact"
    assert meta["hparams"] == {"num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_conv": 1, "scale": 4}
