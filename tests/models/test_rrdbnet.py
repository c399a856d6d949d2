"""Implementation checks of RRDBNet against the PyTorch reference (testkit/torch_models.py), and of its `remat`
option, which must change neither parameter names and shapes nor outputs and gradients.

The benchmark work (benchmarks/RESULTS.md) tried several internal rewrites of the model; these tests are the
quick float32 parity gate (1e-5 max abs) that any such rewrite has to pass.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from esrgan_jax.models.rrdbnet import RRDBNet
from testkit.torch_models import RRDBNetTorch, randomize_
from weights_conversion import convert_state_dict

TINY = {"num_feat": 16, "num_block": 2, "num_grow_ch": 8}


def _x(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).random(shape, dtype=np.float32))


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
