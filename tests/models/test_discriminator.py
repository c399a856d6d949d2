"""esrgan_jax/models/discriminator.py: `TorchBatchNorm` against torch's BatchNorm2d (outputs in train and eval mode,
the running statistics after two training steps: momentum 0.1, unbiased variance), the discriminator's parameter
and BN-buffer counts against BasicSR's definition, logits per image, and its input-size errors. Whole-network
parity with converted weights: tests/weights_conversion/test_other_kinds.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from esrgan_jax.models.discriminator import TorchBatchNorm, VGGStyleDiscriminator
from testkit.torch_models import VGGStyleDiscriminatorTorch


def count(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def test_batch_norm_follows_torch_in_train_and_eval_mode():
    rng = np.random.default_rng(0)
    batches = [rng.normal(2.0, 3.0, (4, 5, 3, 6)).astype(np.float32) for _ in range(2)]
    scale, bias = rng.random(6).astype(np.float32) + 0.5, rng.normal(size=6).astype(np.float32)
    bn = TorchBatchNorm()
    stats = bn.init(jax.random.key(0), batches[0], True)["batch_stats"]  # mean 0, var 1
    variables = {"params": {"scale": scale, "bias": bias}, "batch_stats": stats}
    ref = torch.nn.BatchNorm2d(6)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(scale))
        ref.bias.copy_(torch.from_numpy(bias))
    nchw = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2)  # noqa: E731
    for x in batches:  # training: normalised by the batch, running stats updated
        got, updates = bn.apply(variables, x, True, mutable=["batch_stats"])
        variables = {**variables, **updates}
        with torch.no_grad():
            want = ref.train()(nchw(x)).permute(0, 2, 3, 1).numpy()
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)
    stats = variables["batch_stats"]
    np.testing.assert_allclose(stats["mean"], ref.running_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(stats["var"], ref.running_var.numpy(), rtol=1e-5)  # unbiased, as torch keeps it
    with torch.no_grad():
        want = ref.eval()(nchw(batches[0])).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(bn.apply(variables, batches[0], False), want, atol=2e-5, rtol=0)


@pytest.mark.parametrize("input_size", [128, 256])
def test_discriminator_parameter_count_matches_torch(input_size):
    module = VGGStyleDiscriminator(num_feat=8, input_size=input_size)
    variables = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, input_size, input_size, 3)))
    torch_model = VGGStyleDiscriminatorTorch(num_feat=8, input_size=input_size)
    assert count(variables["params"]) == sum(p.numel() for p in torch_model.parameters())
    n_stats = sum(b.numel() for n, b in torch_model.named_buffers() if not n.endswith("num_batches_tracked"))
    assert count(variables["batch_stats"]) == n_stats


def test_discriminator_gives_one_float32_logit_per_image():
    module = VGGStyleDiscriminator(num_feat=4, dtype=jnp.bfloat16)
    out = jax.eval_shape(
        lambda x: module.init_with_output(jax.random.key(0), x, train=False)[0], jnp.zeros((3, 128, 128, 3))
    )
    assert (out.shape, out.dtype) == ((3, 1), jnp.float32)


def test_discriminator_rejects_wrong_input_size():
    with pytest.raises(ValueError) as e:
        VGGStyleDiscriminator(num_feat=4).init(jax.random.key(0), jnp.zeros((1, 96, 96, 3)))
    assert str(e.value) == "VGGStyleDiscriminator: input must be 128x128, got 96x96"
    with pytest.raises(ValueError) as e:
        VGGStyleDiscriminator(num_feat=4, input_size=192).init(jax.random.key(0), jnp.zeros((1, 192, 192, 3)))
    assert str(e.value) == "VGGStyleDiscriminator: input_size must be 128 or 256, got 192"
