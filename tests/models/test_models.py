"""Model building blocks against their PyTorch definitions, parameter counts, and cheap initialisation.

Whole-network parity with converted weights lives in test_convert_rrdbnet.py / test_convert_other.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from esrgan_jax.models import (
    SRCNN,
    RRDBNet,
    VGG16Features,
    VGG19Features,
    VGGStyleDiscriminator,
    build_model,
    pixel_unshuffle,
    upsample_nearest2x,
)
from esrgan_jax.models.layers import leaky_relu
from esrgan_jax.models.vgg import layer_names
from testkit.torch_models import RRDBNetTorch, SRCNNTorch, VGGStyleDiscriminatorTorch, VGGTorch


def count(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def abstract_params(module, shape) -> dict:
    return jax.eval_shape(module.init, jax.random.key(0), jnp.zeros(shape, jnp.float32))["params"]


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


def test_leaky_relu_slope_is_esrgans():
    x = np.linspace(-3, 3, 13, dtype=np.float32)
    np.testing.assert_array_equal(leaky_relu(jnp.asarray(x)), F.leaky_relu(torch.from_numpy(x), 0.2).numpy())


def test_rrdbnet_output_shapes_and_scale_check():
    for scale, side in ((4, 5), (2, 6), (1, 8)):
        model = RRDBNet(scale=scale, num_feat=4, num_block=1, num_grow_ch=4)
        out = jax.eval_shape(
            lambda x, m=model: m.init_with_output(jax.random.key(0), x)[0], jnp.zeros((2, side, side, 3))
        )
        assert out.shape == (2, side * scale, side * scale, 3)
    with pytest.raises(ValueError, match="RRDBNet: scale must be 1, 2 or 4, got 3"):
        RRDBNet(scale=3).init(jax.random.key(0), jnp.zeros((1, 4, 4, 3)))


@pytest.mark.parametrize("input_size", [128, 256])
def test_discriminator_parameter_count_matches_torch(input_size):
    module = VGGStyleDiscriminator(num_feat=8, input_size=input_size)
    variables = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, input_size, input_size, 3)))
    torch_model = VGGStyleDiscriminatorTorch(num_feat=8, input_size=input_size)
    assert count(variables["params"]) == sum(p.numel() for p in torch_model.parameters())
    n_stats = sum(b.numel() for n, b in torch_model.named_buffers() if not n.endswith("num_batches_tracked"))
    assert count(variables["batch_stats"]) == n_stats


def test_discriminator_rejects_wrong_input_size():
    with pytest.raises(ValueError, match="VGGStyleDiscriminator: input must be 128x128, got 96x96"):
        VGGStyleDiscriminator(num_feat=4).init(jax.random.key(0), jnp.zeros((1, 96, 96, 3)))


@pytest.mark.parametrize("arch, build, index", [("vgg19", VGG19Features, 34), ("vgg16", VGG16Features, 29)])
def test_vgg_layer_names_follow_torchvision_indices(arch, build, index):
    names = layer_names(arch)
    assert len(names) == len(VGGTorch(arch).features)
    assert names[index] == ("conv5_4" if arch == "vgg19" else "relu5_3")
    for i, layer in enumerate(VGGTorch(arch).features):
        assert names[i].startswith({"Conv2d": "conv", "ReLU": "relu", "MaxPool2d": "pool"}[type(layer).__name__])
    params = abstract_params(build(), (1, 32, 32, 3))
    assert count(params) == sum(p.numel() for p in VGGTorch(arch).parameters())


def test_srcnn_matches_torch_parameter_count_and_rebuilds_from_hparams():
    hparams = {"num_channels": 3, "scale": 4, "filters": [64, 32], "kernels": [9, 5, 5]}
    module = build_model("srcnn", hparams)
    assert isinstance(module, SRCNN) and module.filters == (64, 32) and SRCNN.pre_upsample
    assert count(abstract_params(module, (1, 16, 16, 3))) == sum(p.numel() for p in SRCNNTorch().parameters())
    with pytest.raises(ValueError, match="unknown model kind 'edsr'"):
        build_model("edsr", {})
