"""Train steps: one ESRGAN step vs a PyTorch re-implementation of BasicSR's optimize_parameters; freezing,
donation and single compilation; one step on 4 devices equals one step on 1 device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from ml_collections import ConfigDict

from esrgan_jax import sharding
from esrgan_jax.models import RRDBNet, VGGFeatures, VGGStyleDiscriminator
from esrgan_jax.training import optim
from esrgan_jax.training import state as train_state
from esrgan_jax.training import step as train_steps

REPO = Path(__file__).resolve().parents[2]
TRUNK = ((r"body_\d+/.*", "train"), (".*", "freeze"))
TINY = dict(num_feat=8, num_block=1, num_grow_ch=8)


def _torch_basicsr_step(tg, td, tvgg, lq, gt, lr, ema_decay):
    """BasicSR ESRGANModel.optimize_parameters (pixel L1 1e-2, VGG19 conv5_4 L1 1.0, RaGAN 5e-3) with SGD."""
    import torch
    import torch.nn.functional as F

    bce = lambda x, t: F.binary_cross_entropy_with_logits(x, torch.full_like(x, t))  # noqa: E731
    trunk = [p for n, p in tg.named_parameters() if n.startswith("body.")]
    for n, p in tg.named_parameters():
        p.requires_grad_(n.startswith("body."))
    ema = {n: p.detach().clone() for n, p in tg.named_parameters()}
    opt_g, opt_d = torch.optim.SGD(trunk, lr=lr), torch.optim.SGD(td.parameters(), lr=lr)
    tg.train(), td.train()
    out = tg(lq)
    for p in td.parameters():
        p.requires_grad_(False)
    l_pix = 1e-2 * F.l1_loss(out, gt)
    l_percep = F.l1_loss(tvgg.forward_to(out, 34), tvgg.forward_to(gt, 34).detach())
    real_d_pred = td(gt).detach()
    fake_g_pred = td(out)
    l_g_gan = (
        5e-3 * (bce(real_d_pred - torch.mean(fake_g_pred), 0.0) + bce(fake_g_pred - torch.mean(real_d_pred), 1.0)) / 2
    )
    (l_pix + l_percep + l_g_gan).backward()
    opt_g.step()
    for p in td.parameters():
        p.requires_grad_(True)
    fake_d_pred = td(out).detach()
    real_d_pred = td(gt)
    l_d_real = bce(real_d_pred - torch.mean(fake_d_pred), 1.0) * 0.5
    l_d_real.backward()
    fake_d_pred = td(out.detach())
    l_d_fake = bce(fake_d_pred - torch.mean(real_d_pred.detach()), 0.0) * 0.5
    l_d_fake.backward()
    opt_d.step()
    with torch.no_grad():
        ema = {n: ema[n] * ema_decay + p * (1 - ema_decay) for n, p in tg.named_parameters()}
    losses = dict(l_g_pix=l_pix.item(), l_g_percep=l_percep.item(), l_g_gan=l_g_gan.item())
    return losses | dict(l_d_real=l_d_real.item(), l_d_fake=l_d_fake.item()), ema


def _sd(module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def test_esrgan_step_matches_basicsr_torch():
    torch = pytest.importorskip("torch")
    from testkit.torch_models import RRDBNetTorch, VGGStyleDiscriminatorTorch, VGGTorch, randomize_
    from weights_conversion import convert_state_dict

    tg = randomize_(RRDBNetTorch(**TINY), seed=1, std=0.1)  # large enough that SR images vary (BN input)
    td = randomize_(VGGStyleDiscriminatorTorch(num_feat=8), seed=2, std=0.05)
    tvgg = randomize_(VGGTorch("vgg19"), seed=3, std=0.03)
    conv = lambda sd, kind: convert_state_dict(sd, kind)[2]  # noqa: E731
    g0, d0, vgg_params = conv(_sd(tg), "rrdbnet"), conv(_sd(td), "vgg_discriminator"), conv(_sd(tvgg), "vgg19")
    rng = np.random.default_rng(0)
    lq, gt = rng.random((2, 32, 32, 3), np.float32), rng.random((2, 128, 128, 3), np.float32)
    lr, decay = 0.5, 0.9
    to_t = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).contiguous()  # noqa: E731  [N, H, W, C] -> [N, C, H, W]
    t_losses, t_ema = _torch_basicsr_step(tg, td, tvgg, to_t(lq), to_t(gt), lr, decay)

    g = RRDBNet(**TINY)
    g_tx, _ = optim.make_optimizer(optax.sgd(lr), g0["params"], TRUNK)
    cfg = train_steps.StepConfig(
        generator=g, g_tx=g_tx, pixel_loss="l1", pixel_weight=1e-2, perceptual_weight=1.0,
        vgg=VGGFeatures(arch="vgg19", layers=("conv5_4",)), gan_weight=5e-3,
        discriminator=VGGStyleDiscriminator(num_feat=8), d_tx=optax.sgd(lr), ema_decay=decay,
    )  # fmt: skip
    mesh = sharding.make_mesh()
    state = train_state.create_train_state(g0["params"], g_tx, d_variables=d0, d_tx=cfg.d_tx, ema=True)
    state = sharding.put_replicated(state, mesh)
    step = train_steps.compile_train_step(cfg, mesh)
    state, metrics = step(state, sharding.put_batch({"lr": lq, "hr": gt}, mesh), vgg_params["params"])

    for k, v in t_losses.items():
        np.testing.assert_allclose(metrics[k], v, rtol=1e-4, err_msg=k)
    g1, d1 = conv(_sd(tg), "rrdbnet"), conv(_sd(td), "vgg_discriminator")

    def close(ours, theirs, what):
        def check(path, a, b):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6, err_msg=what + jax.tree_util.keystr(path))

        jax.tree_util.tree_map_with_path(check, jax.device_get(ours), theirs)

    close(state.g_params, g1["params"], "G")
    close(state.d_params, d1["params"], "D")
    # BN running statistics after BasicSR's five train-mode D forwards (real, fake, fake, real, fake).
    close(state.d_batch_stats, d1["batch_stats"], "D stats")
    close(state.ema_params, conv({k: v.numpy() for k, v in t_ema.items()}, "rrdbnet")["params"], "EMA")
    assert not np.allclose(state.d_batch_stats["bn0_1"]["mean"], d0["batch_stats"]["bn0_1"]["mean"])


def test_discriminator_warmup_holds_the_generator_and_trains_d_as_the_full_step():
    g, d = RRDBNet(**TINY), VGGStyleDiscriminator(num_feat=8)
    gp = g.init_params(jax.random.PRNGKey(0))
    dv = d.init(jax.random.PRNGKey(1), np.zeros((1, 128, 128, 3), np.float32), train=False)
    rng = np.random.default_rng(0)
    batch = {"lr": rng.random((1, 32, 32, 3), np.float32), "hr": rng.random((1, 128, 128, 3), np.float32)}
    mesh = sharding.make_mesh()
    out = {}
    for warmup in (0, 1):
        cfg = train_steps.StepConfig(generator=g, g_tx=optax.adam(1e-3), pixel_loss="l1", gan_weight=5e-3,
                                     discriminator=d, d_tx=optax.adam(1e-3), d_warmup=warmup)  # fmt: skip
        start = jax.device_get(train_state.create_train_state(gp, cfg.g_tx, d_variables=dv, d_tx=cfg.d_tx))
        step = train_steps.compile_train_step(cfg, mesh)
        first, _ = step(sharding.put_replicated(start, mesh), sharding.put_batch(batch, mesh), {})
        first = jax.device_get(first)
        second, _ = step(sharding.put_replicated(first, mesh), sharding.put_batch(batch, mesh), {})
        out[warmup] = first, jax.device_get(second)
    held, full = out[1][0], out[0][0]
    # The warm-up step: G and its Adam state as they were; D, its Adam state and BN statistics as the full step's.
    jax.tree.map(np.testing.assert_array_equal, held.g_params, jax.device_get(gp))
    jax.tree.map(np.testing.assert_array_equal, held.g_opt, start.g_opt)
    jax.tree.map(np.testing.assert_array_equal, (held.d_params, held.d_opt, held.d_batch_stats),
                 (full.d_params, full.d_opt, full.d_batch_stats))  # fmt: skip
    assert not np.array_equal(full.g_params["conv_first"]["kernel"], gp["conv_first"]["kernel"])
    # Past the warm-up, G trains again.
    assert not np.array_equal(out[1][1].g_params["conv_first"]["kernel"], gp["conv_first"]["kernel"])


@pytest.fixture(scope="module")
def mse_step():
    g = RRDBNet(**TINY)
    params = g.init_params(jax.random.PRNGKey(0))
    adam = optim.adam(ConfigDict(dict(lr=1e-3, b1=0.9, b2=0.99, milestones=(), gamma=0.5)))
    g_tx, _ = optim.make_optimizer(adam, params, TRUNK)
    cfg = train_steps.StepConfig(generator=g, g_tx=g_tx, pixel_loss="mse")
    mesh = sharding.make_mesh()
    return params, g_tx, mesh, train_steps.compile_train_step(cfg, mesh)


def test_frozen_params_unchanged_state_donated_and_compiled_once(mse_step):
    params, g_tx, mesh, step = mse_step
    state = sharding.put_replicated(train_state.create_train_state(params, g_tx), mesh)
    rng = np.random.default_rng(1)
    for _ in range(2):
        old = state
        batch = {"lr": rng.random((2, 16, 16, 3), np.float32), "hr": rng.random((2, 64, 64, 3), np.float32)}
        state, metrics = step(state, sharding.put_batch(batch, mesh), {})
    assert old.g_params["conv_first"]["kernel"].is_deleted()  # donated, not copied
    assert step._cache_size() == 1  # the second step reused the first compilation
    assert int(state.step) == 2 and set(metrics) == {"l_g_pix", "l_g_total"}
    for name in ("conv_first", "conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"):
        jax.tree.map(np.testing.assert_array_equal, state.g_params[name], params[name])
    assert not np.allclose(
        state.g_params["body_0"]["rdb1"]["conv1"]["kernel"], params["body_0"]["rdb1"]["conv1"]["kernel"]
    )
    mu = state.g_opt.inner_states["train"].inner_state[0].mu
    assert jax.tree.leaves(mu["conv_first"]) == [] and len(jax.tree.leaves(mu["body_0"])) == 30


MULTI_DEVICE = textwrap.dedent(
    """
    import jax, numpy as np, optax
    from esrgan_jax import sharding; from esrgan_jax.training import state as train_state, step as train_steps
    from esrgan_jax.models import RRDBNet, VGGStyleDiscriminator
    assert jax.device_count() == 4, jax.devices()
    g, d = RRDBNet(num_feat=8, num_block=1, num_grow_ch=8), VGGStyleDiscriminator(num_feat=8)
    gp = g.init_params(jax.random.PRNGKey(0))
    dv = d.init(jax.random.PRNGKey(1), np.zeros((1, 128, 128, 3), np.float32), train=False)
    # SGD, not Adam: Adam's first step divides by |grad|, which turns float noise on near-zero gradients into
    # lr-sized differences; SGD compares the gradients themselves.
    cfg = train_steps.StepConfig(generator=g, g_tx=optax.sgd(0.1), pixel_loss="l1", gan_weight=5e-3,
                                 discriminator=d, d_tx=optax.sgd(0.1), ema_decay=0.9)
    rng = np.random.default_rng(0)
    # HR brighter than the random G's output: with real and fake alike, D's gradients are differences of nearly
    # equal terms, and on an AVX2-only CPU (AMD EPYC Zen 3) hundreds of D weights then came out up to 3e-4 of
    # their scale apart between 4 devices and 1.
    batch = {"lr": rng.random((4, 32, 32, 3), np.float32), "hr": 0.5 + 0.5 * rng.random((4, 128, 128, 3), np.float32)}
    out = []
    for devices in (jax.devices(), jax.devices()[:1]):
        mesh = sharding.make_mesh(devices)
        state = train_state.create_train_state(gp, cfg.g_tx, d_variables=dv, d_tx=cfg.d_tx, ema=True)
        state, m = train_steps.compile_train_step(cfg, mesh)(
            sharding.put_replicated(state, mesh), sharding.put_batch(batch, mesh), {})
        if len(devices) == 4:
            assert state.g_params["conv_first"]["kernel"].sharding.mesh.size == 4
            assert len(sharding.put_batch(batch, mesh)["lr"].addressable_shards) == 4
        out.append(jax.device_get((state, m)))
    check = lambda p, a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=jax.tree_util.keystr(p))
    jax.tree_util.tree_map_with_path(check, out[0], out[1])
    print("EQUAL", len(jax.tree.leaves(out[0])))
    """
)


def test_step_on_four_devices_equals_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-c", MULTI_DEVICE], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[0] == "EQUAL" and int(proc.stdout.split()[1]) > 100


ROWS_GAN = textwrap.dedent(
    """
    import json, jax, numpy as np, optax
    from esrgan_jax import sharding
    sharding.use_cpu_cores(2)
    from esrgan_jax.training import state as train_state, step as train_steps
    from esrgan_jax.models import RRDBNet, VGGStyleDiscriminator
    g, d = RRDBNet(num_feat=8, num_block=1, num_grow_ch=8), VGGStyleDiscriminator(num_feat=8)
    cfg = train_steps.StepConfig(generator=g, g_tx=optax.adam(1e-4), pixel_loss="l1", gan_weight=5e-3,
                                 discriminator=d, d_tx=optax.adam(1e-4))
    batch = {"lr": np.zeros((1, 32, 32, 3), np.float32), "hr": np.zeros((1, 128, 128, 3), np.float32)}
    mesh = sharding.mesh_for(batch["lr"].shape)
    d_vars = lambda: d.init(jax.random.PRNGKey(1), batch["hr"], train=False)
    state = jax.eval_shape(lambda: train_state.create_train_state(
        g.init_params(jax.random.PRNGKey(0)), cfg.g_tx, d_variables=d_vars(), d_tx=cfg.d_tx))
    shapes = sharding.shapes(state, sharding.replicated(mesh)), sharding.batch_shapes(batch, mesh), {}
    hlo = train_steps.compile_train_step(cfg, mesh).lower(*shapes).compile().as_text()
    kinds = ("all-reduce", "all-gather", "collective-permute", "reduce-scatter")
    names = [line.split('op_name="')[1].split('"')[0] for line in hlo.splitlines()
             if 'op_name="' in line and any(f"{k}(" in line or f"{k}-start(" in line for k in kinds)]
    print(json.dumps({"devices": mesh.devices.size, "spec": str(shapes[1]["lr"].sharding.spec),
                      "g": sum("RRDBNet" in n for n in names), "d": sum("Discriminator" in n for n in names)}))
    """
)


def test_discriminator_never_takes_a_batch_split_by_rows():
    # Split by rows inside the whole GAN step, D's parameter gradients differed between executions of one
    # compiled step on XLA:CPU (the study's perceptual fine-tune gave other numbers every run): D gets whole
    # images while the generator keeps its rows, so no collective of the compiled step belongs to D.
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "ESRGAN_JAX_CPU_DEVICES")}
    proc = subprocess.run(
        [sys.executable, "-c", ROWS_GAN],
        cwd=REPO,
        env=dict(env, JAX_PLATFORMS="cpu"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.splitlines()[-1])
    assert got["devices"] == 2 and got["spec"] == "P(None, 'data')", got  # the image's rows are split
    assert got["g"] > 0 and got["d"] == 0, got


def test_put_batch_rejects_nothing_and_keeps_values(mse_step):
    _, _, mesh, _ = mse_step
    x = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
    np.testing.assert_array_equal(np.asarray(sharding.put_batch({"lr": x}, mesh)["lr"]), x)
    assert jnp.asarray(sharding.put_batch({"lr": x}, mesh)["lr"]).shape == (2, 4, 4, 3)


def test_bfloat16_compute_keeps_float32_params_and_tracks_float32(mse_step):
    params, g_tx, mesh, _ = mse_step
    rng = np.random.default_rng(2)
    batch = {"lr": rng.random((2, 16, 16, 3), np.float32), "hr": rng.random((2, 64, 64, 3), np.float32)}
    losses, states = {}, {}
    for dtype in (jnp.float32, jnp.bfloat16):
        cfg = train_steps.StepConfig(generator=RRDBNet(**TINY, dtype=dtype), g_tx=g_tx, pixel_loss="mse")
        state = sharding.put_replicated(train_state.create_train_state(params, g_tx), mesh)
        state, metrics = train_steps.compile_train_step(cfg, mesh)(state, sharding.put_batch(batch, mesh), {})
        losses[dtype], states[dtype] = float(metrics["l_g_pix"]), state
    assert {leaf.dtype for leaf in jax.tree.leaves(states[jnp.bfloat16].g_params)} == {jnp.dtype(jnp.float32)}
    assert abs(losses[jnp.bfloat16] - losses[jnp.float32]) < 0.02 * losses[jnp.float32]  # ~3 significant digits
    assert losses[jnp.bfloat16] != losses[jnp.float32]  # the bf16 path really computed in bf16
