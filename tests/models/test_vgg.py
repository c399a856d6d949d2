"""esrgan_jax/models/vgg.py: layer names in torchvision's `features` order, parameter counts against torchvision's
VGG16/VGG19 definitions, the layers returned (only those asked for, computed no deeper than the deepest one),
the input normalisation against torch on the first conv, and the one-line errors. Whole-network parity with
converted weights: tests/weights_conversion/test_other_kinds.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from esrgan_jax.models.vgg import IMAGENET_MEAN, IMAGENET_STD, VGG16Features, VGG19Features, VGGFeatures, layer_names
from testkit.torch_models import VGGTorch


def count(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


@pytest.mark.parametrize("arch, build, index", [("vgg19", VGG19Features, 34), ("vgg16", VGG16Features, 29)])
def test_vgg_layer_names_follow_torchvision_indices(arch, build, index):
    names = layer_names(arch)
    assert len(names) == len(VGGTorch(arch).features)
    assert names[index] == ("conv5_4" if arch == "vgg19" else "relu5_3")
    for i, layer in enumerate(VGGTorch(arch).features):
        assert names[i].startswith({"Conv2d": "conv", "ReLU": "relu", "MaxPool2d": "pool"}[type(layer).__name__])
    params = jax.eval_shape(build().init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))["params"]
    assert count(params) == sum(p.numel() for p in VGGTorch(arch).parameters())


def test_returns_the_layers_asked_for_and_computes_no_deeper():
    module = VGGFeatures(arch="vgg19", layers=("pool1", "relu2_1", "conv2_2"))
    out, variables = jax.eval_shape(
        lambda x: module.init_with_output(jax.random.key(0), x), jnp.zeros((2, 32, 24, 3), jnp.float32)
    )
    assert {k: v.shape for k, v in out.items()} == {
        "pool1": (2, 16, 12, 64), "relu2_1": (2, 16, 12, 128), "conv2_2": (2, 16, 12, 128)
    }  # fmt: skip
    assert sorted(variables["params"]) == ["conv1_1", "conv1_2", "conv2_1", "conv2_2"]
    deep = jax.eval_shape(
        lambda x: VGG19Features().init_with_output(jax.random.key(0), x)[0], jnp.zeros((1, 32, 32, 3))
    )
    assert deep["conv5_4"].shape == (1, 2, 2, 512) and VGG16Features().layers == ("relu5_3",)


@pytest.mark.parametrize("range_norm", [False, True])
def test_input_normalisation_then_conv1_1_matches_torch(range_norm):
    rng = np.random.default_rng(0)
    x = rng.random((1, 8, 6, 3), dtype=np.float32) * (2 if range_norm else 1) - (1 if range_norm else 0)
    module = VGGFeatures(arch="vgg16", layers=("conv1_1",), range_norm=range_norm)
    params = module.init(jax.random.key(0), x)["params"]
    got = module.apply({"params": params}, x)["conv1_1"]
    y = (x + 1) / 2 if range_norm else x  # [-1, 1] -> [0, 1] first
    y = (y - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    kernel, bias = (np.array(params["conv1_1"][k]) for k in ("kernel", "bias"))  # writable copies for torch
    want = F.conv2d(
        torch.from_numpy(y).permute(0, 3, 1, 2),
        torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()),
        torch.from_numpy(bias),
        padding=1,
    ).permute(0, 2, 3, 1)
    np.testing.assert_allclose(got, want.numpy(), atol=1e-5, rtol=0)


def test_errors_name_the_layer_or_arch():
    x = jnp.zeros((1, 8, 8, 3))
    with pytest.raises(ValueError) as e:
        VGGFeatures(arch="vgg16", layers=("conv5_4", "relu1_1")).init(jax.random.key(0), x)
    assert str(e.value) == "VGGFeatures: unknown layer(s) ['conv5_4'] for vgg16"
    with pytest.raises(ValueError) as e:
        VGGFeatures(arch="vgg11").init(jax.random.key(0), x)
    assert str(e.value) == "VGGFeatures: arch must be one of ['vgg16', 'vgg19'], got 'vgg11'"
