"""LPIPS parity: the Flax port against the `lpips` PyTorch package and against lpips-j, on the same weights.

The backbone is a seeded random VGG16 (no ImageNet download); the linear layers are the real v0.1 weights
shipped in the `lpips` wheel; `lpips` is built on a stand-in torchvision (testkit/lpips_oracle.py).
"""

from __future__ import annotations

import h5py
import jax
import numpy as np
import pytest
import torch

from esrgan_jax.models.lpips import LPIPS, lpips_distance
from esrgan_jax.models.store import load_lpips
from testkit.lpips_oracle import backbone, lpips_on_random_vgg16
from weights_conversion.__main__ import main as convert_main
from weights_conversion.common import ConversionError
from weights_conversion.lpips import convert_files, default_lin_path


@pytest.fixture(scope="module")
def lpips_torch():
    """`lpips.LPIPS(net='vgg')` built on the stand-in torchvision (testkit/lpips_oracle.py)."""
    if default_lin_path() is None:
        pytest.skip("the lpips package (pip install --no-deps lpips) is not installed")
    with lpips_on_random_vgg16() as model:
        yield model


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    x = np.tanh(rng.normal(size=(2, 48, 40, 3))).astype(np.float32)
    y = np.clip(x + 0.3 * rng.normal(size=x.shape), -1, 1).astype(np.float32)
    return x, y


def _torch_lpips(model, x, y) -> np.ndarray:
    with torch.no_grad():
        d = model(torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(y).permute(0, 3, 1, 2))
    return d.numpy().reshape(-1)


_lpips_apply = jax.jit(LPIPS().apply)  # one compile for every test here (all use the same image shape)


def _flax_lpips(variables, x, y) -> np.ndarray:
    return np.asarray(_lpips_apply(variables, x, y))


def test_matches_lpips_package_from_torchvision_checkpoint(tmp_path, lpips_torch, images):
    torch.save(backbone().state_dict(), tmp_path / "vgg16.pth")
    hparams, variables, layout, _ = convert_files(tmp_path / "vgg16.pth")  # lin defaults to the wheel's vgg.pth
    assert (hparams, layout) == ({}, "torchvision+lpips")
    want = _torch_lpips(lpips_torch, *images)
    with torch.no_grad():
        _, per_layer = lpips_torch(*(torch.from_numpy(v).permute(0, 3, 1, 2) for v in images), retPerLayer=True)
    assert min(float(r.min()) for r in per_layer) > 5e-4  # every stage contributes well above the tolerance
    np.testing.assert_allclose(_flax_lpips(variables, *images), want, atol=1e-6, rtol=0)
    x, y = images
    np.testing.assert_allclose(_flax_lpips(variables, x, x), 0.0, atol=1e-7)
    got01 = jax.jit(lambda p, a, b: lpips_distance(LPIPS(), p, a, b))(variables["params"], (x + 1) / 2, (y + 1) / 2)
    np.testing.assert_allclose(got01, want, atol=1e-6, rtol=0)


def test_matches_lpips_package_from_its_own_state_dict(tmp_path, lpips_torch, images):
    torch.save(lpips_torch.state_dict(), tmp_path / "lpips_vgg.pth")  # net.sliceK.N + lin + scaling_layer
    _, variables, layout, _ = convert_files(tmp_path / "lpips_vgg.pth")
    assert layout == "lpips"
    np.testing.assert_allclose(_flax_lpips(variables, *images), _torch_lpips(lpips_torch, *images), atol=1e-6, rtol=0)


def _write_lpips_j_h5(tmp_path):
    """The two files lpips-j downloads, in their layout: flaxmodels VGG groups and lin{i} datasets."""
    sd = backbone().state_dict()
    lin_sd = torch.load(default_lin_path(), map_location="cpu", weights_only=True)
    with h5py.File(tmp_path / "vgg16_weights.h5", "w") as f:
        for index, name in [(0, "conv1_1"), (2, "conv1_2"), (5, "conv2_1"), (7, "conv2_2"), (10, "conv3_1")] + [
            (12, "conv3_2"), (14, "conv3_3"), (17, "conv4_1"), (19, "conv4_2"), (21, "conv4_3"), (24, "conv5_1")
        ] + [(26, "conv5_2"), (28, "conv5_3")]:  # fmt: skip
            f[f"{name}/weight"] = sd[f"features.{index}.weight"].numpy().transpose(2, 3, 1, 0)
            f[f"{name}/bias"] = sd[f"features.{index}.bias"].numpy()
        f["fc6/weight"] = np.zeros((8, 4), np.float32)  # the real file also holds the classifier head
    with h5py.File(tmp_path / "lpips_lin.h5", "w") as f:
        for i in range(5):
            f[f"lin{i}"] = lin_sd[f"lin{i}.model.1.weight"].numpy().transpose(2, 3, 1, 0)
    return tmp_path / "vgg16_weights.h5", tmp_path / "lpips_lin.h5"


def test_lpips_j_h5_files_match_lpips_j_and_lpips(tmp_path, lpips_torch, images, monkeypatch):
    vgg_h5, lin_h5 = _write_lpips_j_h5(tmp_path)
    _, variables, layout, _ = convert_files(vgg_h5, lin_h5)
    assert layout == "lpips-j-h5+lpips-j-h5"
    np.testing.assert_allclose(_flax_lpips(variables, *images), _torch_lpips(lpips_torch, *images), atol=1e-6, rtol=0)

    lpips_j = pytest.importorskip("lpips_j.lpips", reason="lpips-j is not installed (test extra)")
    files = {"vgg16_weights.h5": str(vgg_h5), "lpips_lin.h5": str(lin_h5)}
    monkeypatch.setattr(lpips_j, "hf_hub_download", lambda repo_id, filename, **kw: files[filename])
    ref = lpips_j.LPIPS()
    x, y = images
    ref_vars = ref.init(jax.random.key(0), x, y)
    want = np.asarray(ref.apply(ref_vars, x, y)).reshape(-1)
    np.testing.assert_allclose(_flax_lpips(variables, x, y), want, atol=1e-6, rtol=0)


def test_cli_converts_lpips_j_h5_into_a_loadable_model(tmp_path, lpips_torch, images, capsys):
    vgg_h5, lin_h5 = _write_lpips_j_h5(tmp_path)
    assert convert_main(["--kind", "lpips", str(vgg_h5), str(tmp_path / "lpips"), "--lin", str(lin_h5)]) == 0
    assert "kind lpips, layout lpips-j-h5+lpips-j-h5, 14,71" in capsys.readouterr().out
    module, params = load_lpips(tmp_path / "lpips")
    got = _flax_lpips({"params": params}, *images)
    assert module == LPIPS()
    np.testing.assert_allclose(got, _torch_lpips(lpips_torch, *images), atol=1e-6, rtol=0)


def test_conversion_errors_name_the_file_and_key(tmp_path):
    sd = {k: v for k, v in backbone().state_dict().items() if k != "features.28.bias"}
    torch.save(sd, tmp_path / "cut.pth")
    with pytest.raises(ConversionError, match=r"cut\.pth: missing key 'features\.28\.bias'$"):
        convert_files(tmp_path / "cut.pth")
    torch.save({"conv_first.weight": torch.zeros(1)}, tmp_path / "rrdb.pth")
    with pytest.raises(ConversionError, match=r"rrdb\.pth: not a VGG16 checkpoint .*keys: conv_first\.weight$"):
        convert_files(tmp_path / "rrdb.pth")
    vgg_h5, _ = _write_lpips_j_h5(tmp_path)
    with h5py.File(tmp_path / "bad_lin.h5", "w") as f:
        for i, ch in enumerate((64, 128, 256, 512, 512)):
            f[f"lin{i}"] = np.zeros((1, 1, ch if i != 3 else 256, 1), np.float32)
    with pytest.raises(ConversionError, match=r"bad_lin\.h5: dataset 'lin3' has shape \(1, 1, 256, 1\), expected"):
        convert_files(vgg_h5, tmp_path / "bad_lin.h5")
    with pytest.raises(ConversionError, match=r"nope\.h5: no such file$"):
        convert_files(vgg_h5, tmp_path / "nope.h5")
    with pytest.raises(ConversionError, match=r"vgg16_weights\.h5: an lpips-j VGG16 \.h5 file needs its linear layers"):
        convert_files(vgg_h5)
