"""Losses vs PyTorch re-implementations of BasicSR's formulas (esrgan_model.py, GANLoss vanilla, PerceptualLoss)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax.models import VGGFeatures
from esrgan_jax.training import losses

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _logits(seed: int, n: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 2.0, (n, 1)).astype(np.float32)


def _bce(x, target: float):
    # BasicSR GANLoss(gan_type='vanilla'): BCEWithLogitsLoss against a label tensor, mean-reduced.
    return F.binary_cross_entropy_with_logits(x, torch.full_like(x, target))


def test_color_loss_is_the_mean_channel_shift_and_blind_to_texture():
    rng = np.random.default_rng(0)
    hr = rng.random((2, 16, 16, 3), np.float32)
    shift = np.array([0.02, -0.01, 0.0], np.float32)
    np.testing.assert_allclose(losses.color_loss(hr + shift, hr), np.abs(shift).mean(), rtol=1e-5)
    shuffled = hr[:, ::-1, ::-1]  # other pixels, same channel means: no colour loss, a large pixel loss
    assert float(losses.color_loss(shuffled, hr)) < 1e-7 < 0.1 < float(losses.l1_loss(shuffled, hr))
    t_hr, t_sr = torch.from_numpy(hr).permute(0, 3, 1, 2), torch.from_numpy(hr + shift).permute(0, 3, 1, 2)
    ref = F.l1_loss(t_sr.mean(dim=(2, 3)), t_hr.mean(dim=(2, 3))).item()  # the same term written NCHW in torch
    np.testing.assert_allclose(losses.color_loss(hr + shift, hr), ref, rtol=1e-6)


def test_pixel_losses_match_torch():
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 8, 8, 3), np.float32), rng.random((2, 8, 8, 3), np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    np.testing.assert_allclose(losses.l1_loss(a, b), F.l1_loss(ta, tb).item(), rtol=1e-6)
    np.testing.assert_allclose(losses.mse_loss(a, b), F.mse_loss(ta, tb).item(), rtol=1e-6)


def test_ragan_generator_loss_value_and_grad_match_basicsr():
    real, fake = _logits(1), _logits(2)
    t_real, t_fake = torch.tensor(real), torch.tensor(fake, requires_grad=True)
    # esrgan_model.py, G step: real_d_pred = net_d(gt).detach(); fake_g_pred = net_d(output)
    real_d_pred = t_real.detach()
    l_g_real = _bce(real_d_pred - torch.mean(t_fake), 0.0)
    l_g_fake = _bce(t_fake - torch.mean(real_d_pred), 1.0)
    expected = (l_g_real + l_g_fake) / 2
    expected.backward()

    value, (g_real, g_fake) = jax.value_and_grad(losses.ragan_generator_loss, argnums=(0, 1))(real, fake)
    np.testing.assert_allclose(value, expected.item(), rtol=1e-5)
    np.testing.assert_allclose(g_fake, t_fake.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(g_real, 0.0)  # real logits are detached


def test_ragan_discriminator_losses_match_basicsr_two_backward_passes():
    real, fake = _logits(3), _logits(4)
    t_real, t_fake = torch.tensor(real, requires_grad=True), torch.tensor(fake, requires_grad=True)
    # esrgan_model.py, D step: each half is back-propagated on its own, the other side detached.
    l_d_real = _bce(t_real - torch.mean(t_fake.detach()), 1.0) * 0.5
    l_d_real.backward()
    l_d_fake = _bce(t_fake - torch.mean(t_real.detach()), 0.0) * 0.5
    l_d_fake.backward()

    def total(r, f):
        a, b = losses.ragan_discriminator_losses(r, f)
        return a + b, (a, b)

    (_, (a, b)), (g_real, g_fake) = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(real, fake)
    np.testing.assert_allclose([a, b], [l_d_real.item(), l_d_fake.item()], rtol=1e-5)
    np.testing.assert_allclose(g_real, t_real.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g_fake, t_fake.grad.numpy(), rtol=1e-5, atol=1e-7)


# Layer -> index in torchvision's vgg19 `features` (BasicSR vgg_arch NAMES), written out here as the reference.
TORCHVISION_VGG19 = {"conv1_2": 2, "conv2_2": 7, "conv3_4": 16, "conv4_4": 25, "conv5_4": 34}


@pytest.mark.parametrize(
    "weights",
    [
        {"conv5_4": 1.0},  # ESRGAN
        {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0},  # Real-ESRGAN
    ],
)
def test_perceptual_loss_matches_torch_vgg19_before_relu(weights):
    from testkit.torch_models import VGGTorch, randomize_
    from weights_conversion import convert_state_dict

    tvgg = randomize_(VGGTorch("vgg19"), seed=5, std=0.05).eval()
    sd = {k: v.numpy() for k, v in tvgg.state_dict().items()}
    _, _, variables, _ = convert_state_dict(sd, "vgg19")
    rng = np.random.default_rng(6)
    sr, hr = rng.random((2, 32, 32, 3), np.float32), rng.random((2, 32, 32, 3), np.float32)

    t_sr = torch.from_numpy(sr).permute(0, 3, 1, 2).requires_grad_(True)  # [N, H, W, C] -> [N, C, H, W]
    t_hr = torch.from_numpy(hr).permute(0, 3, 1, 2)
    # BasicSR PerceptualLoss: sum over layers of L1(vgg(x), vgg(gt).detach()) * layer weight.
    expected = sum(
        w * F.l1_loss(tvgg.forward_to(t_sr, TORCHVISION_VGG19[k]), tvgg.forward_to(t_hr, TORCHVISION_VGG19[k]).detach())
        for k, w in weights.items()
    )
    expected.backward()

    vgg = VGGFeatures(arch="vgg19", layers=tuple(weights))
    fn = lambda p, x: losses.perceptual_loss(lambda y: vgg.apply({"params": p}, y), x, hr, weights)  # noqa: E731
    value, grad = jax.jit(jax.value_and_grad(fn, argnums=1))(variables["params"], jnp.asarray(sr))  # one compile
    np.testing.assert_allclose(value, expected.item(), rtol=1e-4)
    expected_grad = t_sr.grad.permute(0, 2, 3, 1).numpy()
    if len(weights) == 1:
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-3, atol=2e-5)
    else:
        # L1's gradient is the sign of each feature difference: at conv4_4 one of 16384 differences is 5.7e-6 (of
        # features up to 41, within float32 rounding) and its sign differs between the frameworks, moving the
        # input gradient by 0.4% in norm, so the gradients are compared in norm.
        assert np.linalg.norm(grad - expected_grad) / np.linalg.norm(expected_grad) < 1e-2
