"""The jit-compiled train steps: pixel-loss training, and ESRGAN's perceptual + RaGAN step.

The perceptual step follows BasicSR `esrgan_model.optimize_parameters`: one generator forward, a G update on
pixel + perceptual + relativistic GAN loss (D's real logits detached), then a D update on the same (detached)
fake. D runs in train mode for every forward, including those inside the G loss, so its BatchNorm uses batch
statistics and updates its running statistics five times per step, in BasicSR's order: real, fake (G step),
fake, real, fake (D step).

Data parallelism (`esrgan_jax.sharding`): the batch is split over a 1-D `data` mesh axis (by images, or by rows
when the batch is smaller than the device count) and the state is replicated; XLA inserts the gradient
all-reduce (and the convolutions' halo exchange), and BatchNorm statistics are computed over the global batch
as on one device. The discriminator alone takes whole images (a copy per device when the devices do not divide
the batch): split by rows inside the whole step, its parameter gradients are not repeatable on XLA:CPU, and
Adam's first steps on a fresh discriminator turn last-bit differences of near-zero gradients into steps of +-lr
(experiments/finetune_study/README.md, "Reproducibility").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from esrgan_jax.sharding import replicated, whole_images
from esrgan_jax.training import losses
from esrgan_jax.training.state import TrainState


@dataclasses.dataclass(frozen=True)
class StepConfig:
    """What a train step computes (static: changing any field means a new compiled step).

    Attributes:
      generator: the generator module.
      g_tx: generator optimizer (with freezing).
      pixel_loss: "l1" or "mse".
      pixel_weight: weight of the pixel loss (0 disables it).
      color_weight: weight of `losses.color_loss` (0 disables it).
      perceptual_weight: weight of the VGG loss (0 disables it; then `vgg` may be None).
      vgg: feature extractor returning {layer: features}, applied as `vgg.apply({"params": p}, x)`.
      layer_weights: (layer, weight) pairs of the perceptual loss.
      gan_weight: weight of the RaGAN generator loss (0 disables the discriminator entirely).
      discriminator: the discriminator module (required with `gan_weight > 0`).
      d_tx: discriminator optimizer.
      ema_decay: EMA decay of the generator parameters (0 disables EMA).
      d_warmup: steps at the start in which only D trains: G's parameters and optimizer state are held.
    """

    generator: nn.Module
    g_tx: optax.GradientTransformation
    pixel_loss: str = "l1"
    pixel_weight: float = 1.0
    color_weight: float = 0.0
    perceptual_weight: float = 0.0
    vgg: nn.Module | None = None
    layer_weights: tuple[tuple[str, float], ...] = (("conv5_4", 1.0),)
    gan_weight: float = 0.0
    discriminator: nn.Module | None = None
    d_tx: optax.GradientTransformation | None = None
    ema_decay: float = 0.0
    d_warmup: int = 0


def _d_forward(
    cfg: StepConfig, d_params: Any, stats: Any, x: jax.Array, mesh: Mesh | None = None
) -> tuple[jax.Array, Any]:
    """D logits [N, 1] in train mode, and the BN running statistics after this forward (on whole images when a
    mesh is given: see the module docstring)."""
    if mesh is not None:
        x = jax.lax.with_sharding_constraint(x, whole_images(mesh, x.shape[0]))
    logits, upd = cfg.discriminator.apply(
        {"params": d_params, "batch_stats": stats}, x, train=True, mutable=["batch_stats"]
    )
    return logits, upd["batch_stats"]


def train_step(
    cfg: StepConfig, state: TrainState, batch: dict[str, jax.Array], vgg_params: Any, mesh: Mesh | None = None
):
    """One G update (and one D update with a GAN loss): returns (new state, {loss name: scalar}).

    Args:
      cfg: the static step configuration.
      state: the current state (donated by the compiled step).
      batch: {"lr": [N, h, w, 3], "hr": [N, h*s, w*s, 3]} float32 in [0, 1] (SRCNN: "lr" already upsampled).
      vgg_params: parameters of `cfg.vgg` ({} without a perceptual loss); never updated.
      mesh: the data mesh the step is compiled for (None: no sharding constraints).
    """
    lr, hr = batch["lr"], batch["hr"]
    use_gan = cfg.gan_weight > 0

    def g_loss_fn(g_params, d_stats):
        sr = cfg.generator.apply({"params": g_params}, lr)
        terms = {}
        if cfg.pixel_weight:
            terms["l_g_pix"] = cfg.pixel_weight * losses.PIXEL_LOSSES[cfg.pixel_loss](sr, hr)
        if cfg.color_weight:
            terms["l_g_color"] = cfg.color_weight * losses.color_loss(sr, hr)
        if cfg.perceptual_weight:
            feats = lambda x: cfg.vgg.apply({"params": vgg_params}, x)  # noqa: E731
            terms["l_g_percep"] = cfg.perceptual_weight * losses.perceptual_loss(feats, sr, hr, dict(cfg.layer_weights))
        if use_gan:
            real_logits, d_stats = _d_forward(cfg, state.d_params, d_stats, hr, mesh)
            fake_logits, d_stats = _d_forward(cfg, state.d_params, d_stats, sr, mesh)
            terms["l_g_gan"] = cfg.gan_weight * losses.ragan_generator_loss(real_logits, fake_logits)
        total = sum(terms.values())
        return total, (sr, terms, d_stats)

    (l_g_total, (sr, metrics, d_stats)), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
        state.g_params, state.d_batch_stats
    )
    metrics = dict(metrics, l_g_total=l_g_total)
    updates, g_opt = cfg.g_tx.update(g_grads, state.g_opt, state.g_params)
    g_params = optax.apply_updates(state.g_params, updates)
    if cfg.d_warmup:  # a fresh D first learns the starting G's output; G is held (one program for every step)
        hold = state.step < cfg.d_warmup
        g_params, g_opt = jax.tree.map(
            lambda old, upd: jnp.where(hold, old, upd), (state.g_params, state.g_opt), (g_params, g_opt)
        )
    new = state.replace(step=state.step + 1, g_params=g_params, g_opt=g_opt, d_batch_stats=d_stats)

    if use_gan:
        fake = jax.lax.stop_gradient(sr)  # D trains on the fake made before this step's G update, as BasicSR

        def d_loss_fn(d_params, stats):
            _, stats = _d_forward(cfg, d_params, stats, fake, mesh)  # BasicSR's detached D(fake): only its BN update
            real_logits, stats = _d_forward(cfg, d_params, stats, hr, mesh)
            fake_logits, stats = _d_forward(cfg, d_params, stats, fake, mesh)
            l_d_real, l_d_fake = losses.ragan_discriminator_losses(real_logits, fake_logits)
            aux = {"l_d_real": l_d_real, "l_d_fake": l_d_fake}
            aux.update(out_d_real=jnp.mean(real_logits), out_d_fake=jnp.mean(fake_logits))
            # 1 when D separates the whole batch: every real logit above every fake one (see training/collapse.py)
            aux["d_separated"] = (jnp.min(real_logits) > jnp.max(fake_logits)).astype(jnp.float32)
            return l_d_real + l_d_fake, (stats, aux)

        (_, (d_stats, d_metrics)), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(state.d_params, d_stats)
        d_updates, d_opt = cfg.d_tx.update(d_grads, state.d_opt, state.d_params)
        d_params = optax.apply_updates(state.d_params, d_updates)
        new = new.replace(d_params=d_params, d_opt=d_opt, d_batch_stats=d_stats)
        metrics.update(d_metrics)

    if cfg.ema_decay:
        d = cfg.ema_decay
        new = new.replace(ema_params=jax.tree.map(lambda e, p: e * d + p * (1.0 - d), state.ema_params, g_params))
    return new, metrics


def compile_train_step(cfg: StepConfig, mesh: Mesh) -> Callable[[TrainState, dict, Any], tuple[TrainState, dict]]:
    """`train_step` jitted with explicit shardings, donating the state (argument 0).

    The compiled step is reused for every step: all inputs keep their shapes, dtypes and shardings (`put_batch`),
    so it compiles once. The batch's sharding is taken from the arrays themselves.
    """
    repl = replicated(mesh)
    return jax.jit(
        lambda state, batch, vgg_params: train_step(cfg, state, batch, vgg_params, mesh),
        in_shardings=(repl, None, repl),
        out_shardings=(repl, repl),
        donate_argnums=0,
    )
