"""esrgan_jax/models/layers.py: ESRGAN's LeakyReLU, the 3x3 conv (its 'SAME' padding is PyTorch's padding=1), and
the two initialisers against their definitions: PyTorch's default Conv2d init U(-1/sqrt(fan_in), 1/sqrt(fan_in))
(also drawn by torch itself) and BasicSR's dense-block init, kaiming-normal scaled by 0.1."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from esrgan_jax.models.layers import NEGATIVE_SLOPE, RDB_INIT, TORCH_INIT, conv3x3, leaky_relu


def test_leaky_relu_slope_is_esrgans():
    x = np.linspace(-3, 3, 13, dtype=np.float32)
    np.testing.assert_array_equal(leaky_relu(jnp.asarray(x)), F.leaky_relu(torch.from_numpy(x), 0.2).numpy())
    assert NEGATIVE_SLOPE == 0.2 and float(leaky_relu(jnp.float32(-10.0))) == pytest.approx(-2.0)


def test_torch_init_is_pytorchs_default_conv_init():
    fan_in = 3 * 3 * 32
    bound = 1 / np.sqrt(fan_in)
    kernel = np.asarray(TORCH_INIT(jax.random.key(0), (3, 3, 32, 256), jnp.float32))
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(32, 256, 3).weight.detach().numpy()  # kaiming_uniform_(a=sqrt(5))
    for w in (kernel, theirs):
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
        assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)  # a uniform's std
    assert abs(kernel.mean()) < 0.01 * bound


def test_rdb_init_is_kaiming_normal_times_a_tenth():
    fan_in = 3 * 3 * 96
    kernel = np.asarray(RDB_INIT(jax.random.key(1), (3, 3, 96, 256), jnp.float32))
    assert kernel.std() == pytest.approx(np.sqrt(2.0 / fan_in) * 0.1, rel=0.02)
    torch_w = torch.empty(256, 96, 3, 3)
    torch.nn.init.kaiming_normal_(torch_w)  # BasicSR's default_init_weights(..., scale=0.1) before its scaling
    assert kernel.std() == pytest.approx(float(torch_w.std()) * 0.1, rel=0.03)
    # a normal, not a truncated one: about 0.27% of the draws lie beyond 3 sigma
    assert 0.001 < np.mean(np.abs(kernel) > 3 * np.sqrt(2.0 / fan_in) * 0.1) < 0.005


@pytest.mark.parametrize("side", [(6, 6), (7, 5)])
def test_conv3x3_is_torchs_padding_1_conv(side):
    x = np.random.default_rng(0).random((2, *side, 4), dtype=np.float32)
    conv = conv3x3(5, "c", jnp.float32)
    variables = conv.init(jax.random.key(0), x)
    kernel, bias = variables["params"]["kernel"], variables["params"]["bias"]
    assert kernel.shape == (3, 3, 4, 5) and not np.any(bias)  # bias starts at zero
    bias = np.linspace(-1, 1, 5, dtype=np.float32)
    got = conv.apply({"params": {"kernel": kernel, "bias": bias}}, x)
    want = F.conv2d(
        torch.from_numpy(x).permute(0, 3, 1, 2),
        torch.from_numpy(np.asarray(kernel).transpose(3, 2, 0, 1).copy()),
        torch.from_numpy(bias),
        padding=1,
    ).permute(0, 2, 3, 1)
    np.testing.assert_allclose(got, want.numpy(), atol=1e-6, rtol=0)
    assert conv3x3(5, "c", jnp.bfloat16).apply(variables, x).dtype == jnp.bfloat16
