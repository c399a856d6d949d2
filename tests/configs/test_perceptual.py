"""The `perceptual` config's generator loss, read through the training code, against a PyTorch re-implementation of
Real-ESRGAN's recipe (BasicSR PerceptualLoss with its five VGG layers before their ReLUs, + pixel L1 1.0) plus the
colour term (L1 between the output's and the target's channel means, weight 10)."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest

from configs import perceptual
from esrgan_jax import sharding
from esrgan_jax.models import RRDBNet, VGGFeatures
from esrgan_jax.models.vgg import layer_names
from esrgan_jax.training import optim
from esrgan_jax.training import state as train_state
from esrgan_jax.training import step as train_steps
from esrgan_jax.training.defaults import TRUNK_ONLY
from esrgan_jax.training.run import loss_terms

torch = pytest.importorskip("torch")
F = torch.nn.functional
TINY = dict(num_feat=8, num_block=1, num_grow_ch=8)
# Real-ESRGAN's layer weights (train_realesrgan_x4plus.yml), spelled out per network.
LAYERS = {
    "vgg19": {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0},
    "vgg16": {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_3": 1.0, "conv4_3": 1.0, "conv5_3": 1.0},
}
COLOR_WEIGHT = 10.0


def _torch_step(tg, tvgg, arch: str, lq, gt, lr: float) -> dict[str, float]:
    """One SGD step of the trunk on L1(out, gt) + 10 L1(mean_hw(out), mean_hw(gt)) + sum_k w_k L1(vgg_k(out),
    vgg_k(gt)); returns the loss terms."""
    for n, p in tg.named_parameters():
        p.requires_grad_(n.startswith("body."))
    opt = torch.optim.SGD([p for p in tg.parameters() if p.requires_grad], lr=lr)
    out = tg(lq)
    names = layer_names(arch)  # index i is torchvision's features.i
    l_pix = F.l1_loss(out, gt)
    l_percep = sum(
        w * F.l1_loss(tvgg.forward_to(out, names.index(k)), tvgg.forward_to(gt, names.index(k)).detach())
        for k, w in LAYERS[arch].items()
    )
    l_color = COLOR_WEIGHT * F.l1_loss(out.mean(dim=(2, 3)), gt.mean(dim=(2, 3)))
    (l_pix + l_color + l_percep).backward()
    opt.step()
    return {"l_g_pix": l_pix.item(), "l_g_color": l_color.item(), "l_g_percep": l_percep.item()}


@pytest.mark.parametrize("arch", ["vgg19", "vgg16"])
def test_perceptual_config_step_matches_real_esrgan_loss_in_torch(arch):
    from testkit.torch_models import RRDBNetTorch, VGGTorch, randomize_
    from weights_conversion import convert_state_dict

    config = perceptual.get_config()
    config.loss.perceptual_net = arch
    terms = loss_terms(config.loss)
    assert dict(terms["layer_weights"]) == LAYERS[arch] and terms["gan_weight"] == 0
    assert terms["color_weight"] == COLOR_WEIGHT
    assert tuple(map(tuple, config.train_rules)) == TRUNK_ONLY

    sd = lambda m: {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}  # noqa: E731
    tg = randomize_(RRDBNetTorch(**TINY), seed=1, std=0.1)
    tvgg = randomize_(VGGTorch(arch), seed=3, std=0.03)
    g0, vgg = convert_state_dict(sd(tg), "rrdbnet")[2], convert_state_dict(sd(tvgg), arch)[2]
    rng = np.random.default_rng(0)
    lq, gt = rng.random((2, 32, 32, 3), np.float32), rng.random((2, 128, 128, 3), np.float32)
    to_t = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).contiguous()  # noqa: E731  NHWC -> NCHW
    lr = 0.5
    expected = _torch_step(tg, tvgg, arch, to_t(lq), to_t(gt), lr)

    g_tx, _ = optim.make_optimizer(optax.sgd(lr), g0["params"], TRUNK_ONLY)
    layers = tuple(name for name, _ in terms["layer_weights"])
    cfg = train_steps.StepConfig(generator=RRDBNet(**TINY), g_tx=g_tx, vgg=VGGFeatures(arch=arch, layers=layers),
                                 **terms)  # fmt: skip
    mesh = sharding.make_mesh()
    state = sharding.put_replicated(train_state.create_train_state(g0["params"], g_tx), mesh)
    state, metrics = train_steps.compile_train_step(cfg, mesh)(
        state, sharding.put_batch({"lr": lq, "hr": gt}, mesh), vgg["params"]
    )
    for k, v in expected.items():
        np.testing.assert_allclose(metrics[k], v, rtol=1e-4, err_msg=k)
    assert "l_g_gan" not in metrics

    # The trunk's update, compared in norm: L1's gradient is the sign of each feature difference, and a difference
    # within float32 rounding can flip one sign between the frameworks. Frozen parameters stay as converted.
    theirs = convert_state_dict(sd(tg), "rrdbnet")[2]["params"]
    ours = jax.device_get(state.g_params)
    flat = lambda tree: np.concatenate([np.ravel(a) for a in jax.tree.leaves(tree)])  # noqa: E731
    for name, start in g0["params"].items():
        if name.startswith("body_"):
            d_ours, d_theirs = flat(ours[name]) - flat(start), flat(theirs[name]) - flat(start)
            assert np.linalg.norm(d_ours - d_theirs) < 1e-2 * np.linalg.norm(d_theirs), name
        else:
            jax.tree.map(np.testing.assert_array_equal, ours[name], start)
