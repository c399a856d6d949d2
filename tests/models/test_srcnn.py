"""esrgan_jax/models/srcnn.py: SRCNN against the PyTorch 9-5-5 definition (testkit/torch_models.py): parameter
count, its forward pass on the same weights (transposed by hand, no converter), the same-size output for RGB and
the paper's Y-only network, the generator interface fields, and `build_model` rebuilding it from saved hparams.
Conversion parity: tests/weights_conversion/test_other_kinds.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from esrgan_jax.models import SRCNN, build_model
from testkit.torch_models import SRCNNTorch, randomize_


def count(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def test_srcnn_matches_torch_parameter_count_and_rebuilds_from_hparams():
    hparams = {"num_channels": 3, "scale": 4, "filters": [64, 32], "kernels": [9, 5, 5]}  # as model.json holds it
    module = build_model("srcnn", hparams)
    assert isinstance(module, SRCNN) and module.filters == (64, 32) and module.kernels == (9, 5, 5)
    assert count(module.init_params(jax.random.key(0))) == sum(p.numel() for p in SRCNNTorch().parameters())
    assert build_model("srcnn", hparams, dtype=jnp.bfloat16).dtype == jnp.bfloat16  # overrides win
    with pytest.raises(ValueError, match="unknown model kind 'edsr'"):
        build_model("edsr", {})


@pytest.mark.parametrize("channels", [3, 1])
def test_forward_matches_torch_on_the_same_weights(channels):
    net = randomize_(SRCNNTorch(num_channels=channels), seed=2, std=0.05).eval()
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    params = {
        name: {"kernel": sd[f"{name}.weight"].transpose(2, 3, 1, 0), "bias": sd[f"{name}.bias"]}
        for name in ("conv1", "conv2", "conv3")
    }
    x = np.random.default_rng(0).random((2, 20, 14, channels), dtype=np.float32)
    got = jax.jit(SRCNN(num_channels=channels).apply)({"params": params}, x)
    with torch.no_grad():
        want = net(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert got.shape == x.shape  # same size: the input is already upsampled
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_generator_interface():
    y_only = SRCNN(num_channels=1, scale=3)
    assert (y_only.in_channels, y_only.scale, SRCNN.pre_upsample) == (1, 3, True)
    params = y_only.init_params(jax.random.key(0))
    assert {k: v["kernel"].shape for k, v in params.items()} == {
        "conv1": (9, 9, 1, 64), "conv2": (5, 5, 64, 32), "conv3": (5, 5, 32, 1)
    }  # fmt: skip
    out = SRCNN(dtype=jnp.bfloat16).apply({"params": SRCNN().init_params(jax.random.key(0))}, jnp.zeros((1, 8, 8, 3)))
    assert out.dtype == jnp.float32  # computed in bfloat16, returned as float32


@pytest.mark.parametrize(("filters", "kernels"), [((64, 32), (9, 1, 5)), ((128, 64), (9, 5, 5))])
def test_parameter_count_follows_the_papers_formula(filters, kernels):
    (n1, n2), (f1, f2, f3) = filters, kernels
    want = f1 * f1 * 3 * n1 + n1 + f2 * f2 * n1 * n2 + n2 + f3 * f3 * n2 * 3 + 3  # weights + biases, 3 layers
    assert count(SRCNN(filters=filters, kernels=kernels).init_params(jax.random.key(0))) == want
