"""Conversion parity of the discriminator (BN in train and eval mode), VGG19/VGG16 features and SRCNN.

Each PyTorch reference module gets random weights, is saved as a `.pth`, converted with the CLI, loaded with
the public loader and compared with the PyTorch forward pass.
"""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest
import torch

from esrgan_jax import load_discriminator, load_generator, load_vgg
from testkit.torch_models import SRCNNTorch, VGGStyleDiscriminatorTorch, VGGTorch, he_init_, randomize_
from weights_conversion.__main__ import main


def nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def nhwc(t: torch.Tensor) -> np.ndarray:
    return t.detach().permute(0, 2, 3, 1).numpy()


def convert(tmp_path, model: torch.nn.Module, *flags: str) -> tuple:
    torch.save(model.state_dict(), tmp_path / "src.pth")
    assert main([str(tmp_path / "src.pth"), str(tmp_path / "out"), *flags]) == 0
    return tmp_path / "out", json.loads((tmp_path / "out" / "model.json").read_text())


@pytest.mark.parametrize("input_size", [128, 256])
def test_discriminator_train_and_eval_bn(tmp_path, input_size):
    model = he_init_(VGGStyleDiscriminatorTorch(3, num_feat=8, input_size=input_size), seed=5)
    dst, meta = convert(tmp_path, model)
    assert meta["kind"] == "vgg_discriminator"
    assert meta["hparams"] == {"num_in_ch": 3, "num_feat": 8, "input_size": input_size}
    module, variables = load_discriminator(dst)
    # Blocky images plus noise: i.i.d. noise alone averages out over 5-6 stride-2 stages, giving equal logits.
    rng = np.random.default_rng(1)
    blocks = rng.random((2, 8, 8, 3), dtype=np.float32).repeat(input_size // 8, 1).repeat(input_size // 8, 2)
    x = 0.8 * blocks + 0.2 * rng.random(blocks.shape, dtype=np.float32)

    # Eval mode: normalise with the converted running statistics.
    model.eval()
    with torch.no_grad():
        want = model(nchw(x)).numpy()
    got = jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x)
    assert np.abs(want).max() > 0.1 and np.ptp(want) > 0.01  # logits depend on the input, far above the tolerance
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)

    # Train mode: batch statistics, and the running statistics updated exactly as PyTorch updates its buffers.
    model.train()
    with torch.no_grad():
        want = model(nchw(x)).numpy()
    got, updated = jax.jit(lambda v, x: module.apply(v, x, train=True, mutable=["batch_stats"]))(variables, x)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    buffers = dict(model.named_buffers())
    bn_names = [n for n in variables["batch_stats"]]
    assert len(bn_names) == (9 if input_size == 128 else 11)
    for bn in bn_names:
        for ours, theirs in (("mean", "running_mean"), ("var", "running_var")):
            before = variables["batch_stats"][bn][ours]
            after = np.asarray(updated["batch_stats"][bn][ours])
            assert not np.allclose(after, before)  # the update happened ...
            np.testing.assert_allclose(after, buffers[f"{bn}.{theirs}"].numpy(), rtol=1e-5, atol=1e-6)  # ... as torch's


@pytest.mark.parametrize(
    "arch, last_index, layers",
    [
        ("vgg19", 34, ["conv5_4"]),  # features[34] is conv5_4, before its ReLU: ESRGAN's perceptual feature
        ("vgg16", 29, ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"]),  # features[29] is relu5_3 (LPIPS)
    ],
)
def test_vgg_features(tmp_path, arch, last_index, layers):
    model = he_init_(VGGTorch(arch), seed=6).eval()
    sd = dict(model.state_dict())
    # The real torchvision file also holds the classifier; it is not needed for features and must be skipped.
    sd["classifier.0.weight"], sd["classifier.0.bias"] = torch.zeros(4, 8), torch.zeros(4)
    torch.save(sd, tmp_path / f"{arch}.pth")
    assert main([str(tmp_path / f"{arch}.pth"), str(tmp_path / "out")]) == 0
    meta = json.loads((tmp_path / "out" / "model.json").read_text())
    assert meta["kind"] == arch and meta["source"]["layout"] == "torchvision"
    assert meta["hparams"] == {"layers": layers, "use_input_norm": True}
    module, params = load_vgg(tmp_path / "out")
    x = np.random.default_rng(2).random((2, 32, 32, 3), dtype=np.float32)
    got = jax.jit(module.apply)({"params": params}, x)
    assert sorted(got) == sorted(layers)
    with torch.no_grad():
        want = nhwc(model.forward_to(nchw(x), last_index))
    deepest = got[layers[-1]]
    assert np.abs(want).max() > 0.1  # He init keeps the deepest features O(1), so the tolerance is meaningful
    np.testing.assert_allclose(deepest, want, rtol=0, atol=1e-5)
    # The converted module can return other layers too, e.g. the first ReLU.
    module1, _ = load_vgg(tmp_path / "out", layers=("relu1_1",))
    with torch.no_grad():
        want1 = nhwc(model.forward_to(nchw(x), 1))
    np.testing.assert_allclose(module1.apply({"params": params}, x)["relu1_1"], want1, rtol=0, atol=1e-5)


@pytest.mark.parametrize("num_channels, flags, scale", [(3, [], 4), (1, ["--kind", "srcnn", "--scale", "3"], 3)])
def test_srcnn(tmp_path, num_channels, flags, scale):
    model = randomize_(SRCNNTorch(num_channels), seed=7).eval()
    dst, meta = convert(tmp_path, model, *flags)
    assert meta["kind"] == "srcnn"
    assert meta["hparams"] == {"num_channels": num_channels, "scale": scale, "filters": [64, 32], "kernels": [9, 5, 5]}
    module, params = load_generator(dst)
    x = np.random.default_rng(3).random((2, 15, 11, num_channels), dtype=np.float32)
    with torch.no_grad():
        want = nhwc(model(nchw(x)))
    np.testing.assert_allclose(module.apply({"params": params}, x), want, rtol=0, atol=1e-5)
    assert jax.tree.structure(params) == jax.tree.structure({f"conv{i}": {"bias": 0, "kernel": 0} for i in (1, 2, 3)})
