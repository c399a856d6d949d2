"""Implementation checks of RRDBNet's speed/memory internals (split dense-block convs, remat) against references.

The dense block applies its convs split along the input channels instead of on concatenations, and `remat`
recomputes activations in the backward pass; neither may change parameter names, shapes, initial values,
outputs or gradients. References: the PyTorch RRDBNet (tests/torch_models.py) and a plain flax.linen dense
block written the textbook way (nn.Conv on jnp.concatenate).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch_models import RRDBNetTorch, randomize_

from esrgan_jax.models.rrdbnet import _RDB_INIT, ResidualDenseBlock, RRDBNet, leaky_relu
from weights_conversion import convert_state_dict

TINY = {"num_feat": 16, "num_block": 2, "num_grow_ch": 8}


class ConcatDenseBlock(nn.Module):
    """The textbook dense block: conv_k on concat(x, x1, .., x_{k-1}) with nn.Conv."""

    num_feat: int = 16
    num_grow_ch: int = 8

    @nn.compact
    def __call__(self, x):
        feats = [x]
        for k in range(1, 6):
            width = self.num_grow_ch if k < 5 else self.num_feat
            conv = nn.Conv(width, (3, 3), padding="SAME", kernel_init=_RDB_INIT, name=f"conv{k}")
            y = conv(jnp.concatenate(feats, -1))
            feats.append(leaky_relu(y))
        return y * 0.2 + x


def _x(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).random(shape, dtype=np.float32))


def test_dense_block_has_nn_conv_params_and_outputs():
    x = _x((2, 12, 10, 16))
    ref, ours = ConcatDenseBlock(), ResidualDenseBlock(16, 8)
    p_ref = ref.init(jax.random.key(3), x)
    p_ours = ours.init(jax.random.key(3), x)
    # Same names, shapes and initial values (same initialisers on the same RNG paths).
    assert jax.tree.structure(p_ref) == jax.tree.structure(p_ours)
    jax.tree.map(np.testing.assert_array_equal, p_ref, p_ours)
    # Non-zero biases, so every term of the split sum is exercised.
    p = jax.tree.map(lambda a: a + 0.05 * _x(a.shape, 1), p_ref)
    np.testing.assert_allclose(ours.apply(p, x), ref.apply(p, x), atol=1e-6, rtol=2e-6)


@pytest.mark.parametrize("scale", [4, 2])
def test_rrdbnet_matches_pytorch_reference_within_1e5(scale):
    net = randomize_(RRDBNetTorch(scale=scale, **TINY), seed=5, std=0.05).eval()
    _, hparams, variables, _ = convert_state_dict({k: v.numpy() for k, v in net.state_dict().items()}, "rrdbnet")
    x = np.random.default_rng(1).random((2, 16, 12, 3), dtype=np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)
    got = jax.jit(lambda v, x: RRDBNet(**hparams).apply(v, x))(variables, x)
    assert np.abs(np.asarray(got) - want).max() < 1e-5


def test_remat_changes_neither_params_nor_outputs_nor_grads():
    x = _x((1, 12, 12, 3))
    plain, remat = RRDBNet(**TINY), RRDBNet(**TINY, remat=True)
    params = plain.init_params(jax.random.key(0))
    assert jax.tree.structure(params) == jax.tree.structure(remat.init_params(jax.random.key(0)))

    def loss(module):
        return jax.jit(jax.value_and_grad(lambda p: jnp.mean(module.apply({"params": p}, x) ** 2)))(params)

    (l0, g0), (l1, g1) = loss(plain), loss(remat)
    np.testing.assert_allclose(l1, l0, rtol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8), g1, g0)
