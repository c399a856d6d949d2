"""weights_conversion/lpips.py (`python -m weights_conversion --kind lpips`): every input layout it accepts (a
torchvision VGG16 with the lpips wheel's linear layers, the lpips package's own state dict, lpips-j's two .h5
files) gives the weights of the `lpips` PyTorch package, the CLI writes a loadable model directory, and broken
inputs are one error naming the file and the key or dataset.

The oracle is `lpips.LPIPS(net='vgg')` on a seeded random VGG16 (the `lpips_torch` fixture of tests/conftest.py).
"""

from __future__ import annotations

import h5py
import jax
import numpy as np
import pytest
import torch

from esrgan_jax.models.lpips import LPIPS
from esrgan_jax.models.store import load_lpips
from testkit.lpips_oracle import backbone
from tests.support import lpips_images, write_lpips_j_h5
from weights_conversion.__main__ import main as convert_main
from weights_conversion.common import ConversionError
from weights_conversion.lpips import convert_files


@pytest.fixture(scope="module")
def images():
    return lpips_images(1, (1, 40, 32, 3))


@pytest.fixture(scope="module")
def want(lpips_torch, images):
    with torch.no_grad():
        return lpips_torch(*(torch.from_numpy(v).permute(0, 3, 1, 2) for v in images)).numpy().reshape(-1)


_lpips_apply = jax.jit(LPIPS().apply)


def test_torchvision_checkpoint_with_the_wheels_linear_layers(tmp_path, images, want):
    torch.save(backbone().state_dict(), tmp_path / "vgg16.pth")
    hparams, variables, layout, _ = convert_files(tmp_path / "vgg16.pth")  # lin defaults to the wheel's vgg.pth
    assert (hparams, layout) == ({}, "torchvision+lpips")
    np.testing.assert_allclose(_lpips_apply(variables, *images), want, atol=1e-6, rtol=0)


def test_the_lpips_packages_own_state_dict(tmp_path, lpips_torch, images, want):
    torch.save(lpips_torch.state_dict(), tmp_path / "lpips_vgg.pth")  # net.sliceK.N + lin + scaling_layer
    _, variables, layout, _ = convert_files(tmp_path / "lpips_vgg.pth")
    assert layout == "lpips"
    np.testing.assert_allclose(_lpips_apply(variables, *images), want, atol=1e-6, rtol=0)


def test_lpips_j_h5_files(tmp_path, images, want):
    vgg_h5, lin_h5 = write_lpips_j_h5(tmp_path)
    _, variables, layout, _ = convert_files(vgg_h5, lin_h5)
    assert layout == "lpips-j-h5+lpips-j-h5"
    np.testing.assert_allclose(_lpips_apply(variables, *images), want, atol=1e-6, rtol=0)


def test_cli_converts_lpips_j_h5_into_a_loadable_model(tmp_path, images, want, capsys):
    vgg_h5, lin_h5 = write_lpips_j_h5(tmp_path)
    assert convert_main(["--kind", "lpips", str(vgg_h5), str(tmp_path / "lpips"), "--lin", str(lin_h5)]) == 0
    assert "kind lpips, layout lpips-j-h5+lpips-j-h5, 14,71" in capsys.readouterr().out
    module, params = load_lpips(tmp_path / "lpips")
    assert module == LPIPS()
    np.testing.assert_allclose(_lpips_apply({"params": params}, *images), want, atol=1e-6, rtol=0)


def test_conversion_errors_name_the_file_and_key(tmp_path, lpips_torch):
    sd = {k: v for k, v in backbone().state_dict().items() if k != "features.28.bias"}
    torch.save(sd, tmp_path / "cut.pth")
    with pytest.raises(ConversionError, match=r"cut\.pth: missing key 'features\.28\.bias'$"):
        convert_files(tmp_path / "cut.pth")
    torch.save({"conv_first.weight": torch.zeros(1)}, tmp_path / "rrdb.pth")
    with pytest.raises(ConversionError, match=r"rrdb\.pth: not a VGG16 checkpoint .*keys: conv_first\.weight$"):
        convert_files(tmp_path / "rrdb.pth")
    vgg_h5, _ = write_lpips_j_h5(tmp_path)
    with h5py.File(tmp_path / "bad_lin.h5", "w") as f:
        for i, ch in enumerate((64, 128, 256, 512, 512)):
            f[f"lin{i}"] = np.zeros((1, 1, ch if i != 3 else 256, 1), np.float32)
    with pytest.raises(ConversionError, match=r"bad_lin\.h5: dataset 'lin3' has shape \(1, 1, 256, 1\), expected"):
        convert_files(vgg_h5, tmp_path / "bad_lin.h5")
    with pytest.raises(ConversionError, match=r"nope\.h5: no such file$"):
        convert_files(vgg_h5, tmp_path / "nope.h5")
    with pytest.raises(ConversionError, match=r"vgg16_weights\.h5: an lpips-j VGG16 \.h5 file needs its linear layers"):
        convert_files(vgg_h5)
