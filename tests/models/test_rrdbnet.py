"""esrgan_jax/models/rrdbnet.py: RRDBNet against the PyTorch reference (testkit/torch_models.py): outputs, parameter
count and shapes per scale, output shapes and the scale check, the cheap un-jitted full-size init; the
pixel-unshuffle and nearest-upsampling helpers against torch; and the `remat` option, which must change neither
parameter names and shapes nor outputs and gradients.

The benchmark work (benchmarks/RESULTS.md) tried several internal rewrites of the model; these tests are the
quick float32 parity gate (1e-5 max abs) that any such rewrite has to pass.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from esrgan_jax.models.rrdbnet import RRDBNet, pixel_unshuffle, upsample_nearest2x
from testkit.torch_models import RRDBNetTorch, randomize_
from weights_conversion import convert_state_dict

TINY = {"num_feat": 16, "num_block": 2, "num_grow_ch": 8}


def count(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def abstract_params(module, shape) -> dict:
    return jax.eval_shape(module.init, jax.random.key(0), jnp.zeros(shape, jnp.float32))["params"]


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


def test_default_rrdbnet_has_16697987_parameters():
    # 16,697,987 float32 values are the 66.79 MB of RRDB_ESRGAN_x4.pth; also equal to the PyTorch definition.
    assert count(abstract_params(RRDBNet(), (1, 8, 8, 3))) == 16_697_987
    assert sum(p.numel() for p in RRDBNetTorch().parameters()) == 16_697_987


@pytest.mark.parametrize("scale", [4, 2, 1])
def test_rrdbnet_parameter_shapes_match_torch(scale):
    torch_model = RRDBNetTorch(scale=scale, num_feat=8, num_block=2, num_grow_ch=4)
    params = abstract_params(RRDBNet(scale=scale, num_feat=8, num_block=2, num_grow_ch=4), (1, 4, 4, 3))
    flat = {jax.tree_util.keystr(p): v.shape for p, v in jax.tree_util.tree_flatten_with_path(params)[0]}
    assert len(flat) == len(torch_model.state_dict())
    w = torch_model.conv_first.weight
    assert flat["['conv_first']['kernel']"] == (3, 3, w.shape[1], w.shape[0])  # in-channels 3, 12 or 48
    assert flat["['body_1']['rdb3']['conv5']['kernel']"] == (3, 3, 8 + 4 * 4, 8)


def test_full_size_init_without_jit():
    # The un-jitted init executes op by op, so nb=23 needs no whole-model compilation.
    params = RRDBNet().init_params(jax.random.key(0))
    assert count(params) == 16_697_987
    assert sorted(k for k in params if k.startswith("body_")) == sorted(f"body_{i}" for i in range(23))
    # BasicSR scales the dense-block init by 0.1: its std is sqrt(2 / fan_in) * 0.1.
    kernel = np.asarray(params["body_0"]["rdb1"]["conv1"]["kernel"])
    np.testing.assert_allclose(kernel.std(), np.sqrt(2.0 / (9 * 64)) * 0.1, rtol=0.1)


def test_rrdbnet_output_shapes_and_scale_check():
    for scale, side in ((4, 5), (2, 6), (1, 8)):
        model = RRDBNet(scale=scale, num_feat=4, num_block=1, num_grow_ch=4)
        out = jax.eval_shape(
            lambda x, m=model: m.init_with_output(jax.random.key(0), x)[0], jnp.zeros((2, side, side, 3))
        )
        assert out.shape == (2, side * scale, side * scale, 3)
    with pytest.raises(ValueError, match="RRDBNet: scale must be 1, 2 or 4, got 3"):
        RRDBNet(scale=3).init(jax.random.key(0), jnp.zeros((1, 4, 4, 3)))


@pytest.mark.parametrize("factor, channels", [(2, 3), (4, 3), (2, 1), (4, 5)])
def test_pixel_unshuffle_matches_torch(factor, channels):
    x = np.random.default_rng(0).random((2, 4 * factor, 3 * factor, channels), dtype=np.float32)
    want = F.pixel_unshuffle(torch.from_numpy(x).permute(0, 3, 1, 2), factor).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(pixel_unshuffle(jnp.asarray(x), factor), want)


def test_pixel_unshuffle_rejects_indivisible_sizes():
    with pytest.raises(ValueError, match=r"pixel_unshuffle: height and width \(6x5\) must be multiples of 2"):
        pixel_unshuffle(jnp.zeros((1, 6, 5, 3)), 2)


def test_upsample_nearest2x_matches_torch_and_jax_image_resize():
    x = np.random.default_rng(1).random((2, 5, 7, 3), dtype=np.float32)
    got = np.asarray(upsample_nearest2x(jnp.asarray(x)))
    want = F.interpolate(torch.from_numpy(x).permute(0, 3, 1, 2), scale_factor=2, mode="nearest")
    np.testing.assert_array_equal(got, want.permute(0, 2, 3, 1).numpy())
    np.testing.assert_array_equal(got, jax.image.resize(jnp.asarray(x), (2, 10, 14, 3), method="nearest"))
