"""esrgan_jax/models/lpips.py: the Flax LPIPS against the `lpips` PyTorch package and against lpips-j, on the
same weights; `lpips_distance` on [0, 1] images; the channel normalisation; the shape check.

The backbone is a seeded random VGG16 (no ImageNet download); the linear layers are the real v0.1 weights
shipped in the `lpips` wheel; `lpips` is built on a stand-in torchvision (the `lpips_torch` fixture of
tests/conftest.py). The weights reach Flax through the converter (tests/weights_conversion/test_lpips.py tests it).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from esrgan_jax.models.lpips import LPIPS, lpips_distance, normalize_channels
from testkit.lpips_oracle import backbone
from tests.support import lpips_images, write_lpips_j_h5
from weights_conversion.lpips import convert_files


@pytest.fixture(scope="module")
def images():
    return lpips_images(0, (2, 48, 40, 3))


def _torch_lpips(model, x, y) -> np.ndarray:
    with torch.no_grad():
        d = model(torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(y).permute(0, 3, 1, 2))
    return d.numpy().reshape(-1)


_lpips_apply = jax.jit(LPIPS().apply)  # one compile for every test here (all use the same image shape)


def test_matches_lpips_package(tmp_path, lpips_torch, images):
    torch.save(backbone().state_dict(), tmp_path / "vgg16.pth")
    _, variables, _, _ = convert_files(tmp_path / "vgg16.pth")  # lin defaults to the wheel's vgg.pth
    want = _torch_lpips(lpips_torch, *images)
    with torch.no_grad():
        _, per_layer = lpips_torch(*(torch.from_numpy(v).permute(0, 3, 1, 2) for v in images), retPerLayer=True)
    assert min(float(r.min()) for r in per_layer) > 5e-4  # every stage contributes well above the tolerance
    np.testing.assert_allclose(_lpips_apply(variables, *images), want, atol=1e-6, rtol=0)
    x, y = images
    np.testing.assert_allclose(_lpips_apply(variables, x, x), 0.0, atol=1e-7)
    # lpips_distance takes [0, 1] images, batched or single
    distance = jax.jit(lambda p, a, b: lpips_distance(LPIPS(), p, a, b))
    np.testing.assert_allclose(distance(variables["params"], (x + 1) / 2, (y + 1) / 2), want, atol=1e-6, rtol=0)
    single = distance(variables["params"], (x[1] + 1) / 2, (y[1] + 1) / 2)
    assert single.shape == () and abs(float(single) - want[1]) < 1e-6


def test_matches_lpips_j(tmp_path, lpips_torch, images, monkeypatch):
    lpips_j = pytest.importorskip("lpips_j.lpips", reason="lpips-j is not installed (test extra)")
    vgg_h5, lin_h5 = write_lpips_j_h5(tmp_path)
    _, variables, _, _ = convert_files(vgg_h5, lin_h5)
    files = {"vgg16_weights.h5": str(vgg_h5), "lpips_lin.h5": str(lin_h5)}
    monkeypatch.setattr(lpips_j, "hf_hub_download", lambda repo_id, filename, **kw: files[filename])
    ref = lpips_j.LPIPS()
    x, y = images
    want = np.asarray(ref.apply(ref.init(jax.random.key(0), x, y), x, y)).reshape(-1)
    np.testing.assert_allclose(_lpips_apply(variables, x, y), want, atol=1e-6, rtol=0)


def test_normalize_channels_divides_each_pixel_by_its_norm():
    feat = np.zeros((1, 2, 2, 3), np.float32)
    feat[0, 0, 0] = [3.0, 4.0, 0.0]  # norm 5
    feat[0, 1, 1] = [0.0, -2.0, 0.0]  # norm 2; the other pixels stay 0 (no division by zero)
    want = np.zeros_like(feat)
    want[0, 0, 0], want[0, 1, 1] = [0.6, 0.8, 0.0], [0.0, -1.0, 0.0]
    np.testing.assert_allclose(normalize_channels(jnp.asarray(feat)), want, rtol=1e-6)


def test_rejects_images_of_different_shapes():
    with pytest.raises(ValueError) as e:
        LPIPS().init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), jnp.zeros((1, 32, 24, 3)))
    assert str(e.value) == "LPIPS: expected two [N, H, W, 3] images of one shape, got (1, 32, 32, 3) and (1, 32, 24, 3)"
