"""`esrgan_jax.models.dense_block`: its hand-written backward pass against PyTorch autograd on the reference
block (testkit/torch_models.py), the whole RRDBNet's gradients against PyTorch's, and the memory it exists to
save, read from XLA's compiled memory analysis against plain autodiff of the same block; the same for the
concatenation-free forward (`dense_block_concat_free`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from jax import lax

from esrgan_jax.models.dense_block import dense_block, dense_block_concat_free
from esrgan_jax.models.rrdbnet import RRDBNet
from testkit.torch_models import ResidualDenseBlock, RRDBNetTorch, randomize_
from weights_conversion import convert_state_dict

NF, GC = 16, 8


def _torch_block(seed: int = 3) -> ResidualDenseBlock:
    # std 0.1 puts the convs' outputs on both sides of 0, so both LeakyReLU branches carry gradient.
    return randomize_(ResidualDenseBlock(NF, GC), seed=seed, std=0.1)


def _jax_params(block: ResidualDenseBlock) -> tuple:
    convs = [getattr(block, f"conv{k}") for k in range(1, 6)]
    return tuple(
        (jnp.asarray(c.weight.detach().numpy().transpose(2, 3, 1, 0)), jnp.asarray(c.bias.detach())) for c in convs
    )


def _textbook(x, params):
    """The block as plain autodiff sees it: the paper's formula, no custom VJP."""

    def conv(v, k, b):
        return lax.conv_general_dilated(v, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")) + b

    feats = x
    for k, b in params[:4]:
        feats = jnp.concatenate([feats, jax.nn.leaky_relu(conv(feats, k, b), 0.2)], -1)
    return conv(feats, *params[4]) * 0.2 + x


@pytest.mark.parametrize("block_fn", [dense_block, dense_block_concat_free], ids=["concat", "concat_free"])
def test_dense_block_gradients_match_pytorch_autograd(block_fn):
    block = _torch_block()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 12, 10, NF), dtype=np.float32)
    cot = rng.standard_normal((2, 12, 10, NF), dtype=np.float32)

    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(True)
    out_t = block(xt)
    out_t.backward(torch.from_numpy(cot.transpose(0, 3, 1, 2).copy()))

    params = _jax_params(block)
    out, vjp = jax.vjp(block_fn, jnp.asarray(x), params)
    d_x, d_params = vjp(jnp.asarray(cot))

    np.testing.assert_allclose(out, out_t.detach().numpy().transpose(0, 2, 3, 1), atol=1e-5)
    np.testing.assert_allclose(d_x, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)
    for k, (d_kernel, d_bias) in enumerate(d_params, start=1):
        conv = getattr(block, f"conv{k}")
        np.testing.assert_allclose(d_kernel, conv.weight.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(d_bias, conv.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("concat_free", [False, True])
def test_rrdbnet_parameter_gradients_match_pytorch_autograd(concat_free):
    net = randomize_(RRDBNetTorch(num_feat=NF, num_block=2, num_grow_ch=GC), seed=7, std=0.05)
    _, hparams, variables, _ = convert_state_dict(
        {k: v.detach().numpy() for k, v in net.state_dict().items()}, "rrdbnet"
    )
    x = np.random.default_rng(2).random((2, 12, 12, 3), dtype=np.float32)

    loss_t = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).square().mean()
    loss_t.backward()
    want = convert_state_dict({k: p.grad.numpy() for k, p in net.named_parameters()}, "rrdbnet")[2]["params"]

    model = RRDBNet(**hparams, concat_free=concat_free)
    got = jax.grad(lambda p: jnp.mean(model.apply({"params": p}, x) ** 2))(variables["params"])
    assert jax.tree.structure(got) == jax.tree.structure(want)
    jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6), got, want)


# The concatenation-free forward holds every later conv's partial sum at once (192 channels beside x), so it
# saves less than the concatenating block (7.0 vs 5.4 MB of autodiff's 13.5 MB here).
@pytest.mark.parametrize(
    "block_fn, bound", [(dense_block, 0.5), (dense_block_concat_free, 0.6)], ids=["concat", "concat_free"]
)
def test_backward_keeps_a_fraction_of_autodiffs_temp_memory(block_fn, bound):
    """Eight chained blocks' gradient: XLA's temp buffers (the activations held for the backward dominate them)."""
    params = [_jax_params(_torch_block(seed)) for seed in range(8)]
    x = jnp.ones((2, 32, 32, NF), jnp.float32)

    def temp_bytes(block_fn) -> int:
        def loss(ps):
            y = x
            for p in ps:
                y = block_fn(y, p)
            return jnp.sum(y**2)

        return jax.jit(jax.grad(loss)).lower(params).compile().memory_analysis().temp_size_in_bytes

    custom, autodiff = temp_bytes(block_fn), temp_bytes(_textbook)
    assert custom < bound * autodiff, (custom, autodiff)


def test_bfloat16_compute_keeps_float32_parameter_gradients():
    params = _jax_params(_torch_block())
    x = jnp.asarray(np.random.default_rng(1).standard_normal((1, 8, 8, NF)), jnp.bfloat16)
    d_x, d_params = jax.grad(lambda x, p: jnp.sum(dense_block(x, p).astype(jnp.float32) ** 2), argnums=(0, 1))(
        x, params
    )
    assert d_x.dtype == jnp.bfloat16
    assert {leaf.dtype for leaf in jax.tree.leaves(d_params)} == {jnp.dtype(jnp.float32)}
    want = jax.grad(lambda p: jnp.sum(_textbook(x.astype(jnp.float32), p) ** 2))(params)
    np.testing.assert_allclose(d_params[4][0], want[4][0], rtol=0.05, atol=0.05 * float(jnp.abs(want[4][0]).max()))


def test_concat_free_forward_equals_the_concatenating_block():
    params = _jax_params(_torch_block(5))
    x = jnp.asarray(np.random.default_rng(4).standard_normal((2, 9, 13, NF)), jnp.float32)
    np.testing.assert_allclose(dense_block_concat_free(x, params), dense_block(x, params), rtol=0, atol=2e-6)
