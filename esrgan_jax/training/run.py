"""What a training run builds once before its first step: the networks, optimisers with the freeze table, the
data sets and the device mesh (`build_run`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import ml_collections

from esrgan_jax import sharding
from esrgan_jax.data import PairedDataset, open_dataset
from esrgan_jax.data.pipeline import FIXED_LR_SIZE, steps_per_epoch
from esrgan_jax.errors import UserError
from esrgan_jax.models import VGGFeatures, VGGStyleDiscriminator, build_model, compute_dtype
from esrgan_jax.training import optim
from esrgan_jax.training.preflight import is_none, perceptual_layers
from esrgan_jax.training.step import StepConfig


@dataclasses.dataclass
class Run:
    """What the loop needs, built once: the networks, their optimisers, the data and the mesh."""

    config: ml_collections.ConfigDict
    workdir: Path
    kind: str
    hparams: dict[str, Any]
    generator: nn.Module
    step_cfg: StepConfig
    mesh: jax.sharding.Mesh
    train_ds: PairedDataset
    val_ds: PairedDataset | None
    steps_per_epoch: int
    total: int
    lr_side: int  # side of the square LR patches of every batch (config.data.lr_patch, or the "fixed" size)
    lead: bool  # process 0: the one that prints and writes

    def say(self, *args: Any) -> None:
        if self.lead:
            print(*args)


def _open(spec: str, split: str, scale: int, skip_bad: bool) -> PairedDataset:
    return open_dataset(spec, scale, split=split or None, skip_bad=skip_bad)


def loss_terms(loss: ml_collections.ConfigDict) -> dict[str, Any]:
    """The generator loss of `config.loss` as StepConfig fields: pixel loss and weight, colour term, VGG layers and
    weights, GAN."""
    return dict(
        pixel_loss=loss.pixel,
        pixel_weight=loss.pixel_weight,
        color_weight=loss.color_weight,
        perceptual_weight=loss.perceptual_weight,
        layer_weights=perceptual_layers(loss),
        gan_weight=loss.gan_weight,
    )


def build_run(config: ml_collections.ConfigDict, workdir: Path, kind: str, hparams: dict[str, Any]) -> Run:
    """The networks (generator, optional discriminator and VGG), optimisers with the freeze table, data, mesh."""
    dtype = compute_dtype(config.train.dtype)
    loss, data = config.loss, config.data
    generator = build_model(kind, hparams, dtype=dtype)
    discriminator = VGGStyleDiscriminator(**dict(config.discriminator), dtype=dtype) if loss.gan_weight > 0 else None
    terms = loss_terms(loss)
    vgg = None
    if loss.perceptual_weight > 0:
        layers = tuple(name for name, _ in terms["layer_weights"])
        vgg = VGGFeatures(arch=loss.perceptual_net, layers=layers, dtype=dtype)

    # Every process reads its own shard; the global batch is split over processes, then devices. One process
    # splits it over as many devices as divide its images, else its rows (a CPU's cores).
    n_proc, bs = jax.process_count(), data.batch_size
    lr_side = data.lr_patch if data.resize_mode == "crop" else FIXED_LR_SIZE
    mesh = sharding.mesh_for((bs, lr_side)) if n_proc == 1 else sharding.make_mesh()
    if n_proc > 1 and (bs % jax.device_count() or bs % n_proc):
        raise UserError(
            f"config.data.batch_size={bs} must be a multiple of the {jax.device_count()} devices and {n_proc} processes"
        )
    train_ds = _open(data.train, data.train_split, data.scale, data.skip_bad)
    val_ds = None if is_none(data.val) else _open(data.val, data.val_split, data.scale, data.skip_bad)
    spe = steps_per_epoch(
        train_ds, bs // n_proc, lr_patch=data.lr_patch, resize_mode=data.resize_mode, shard_count=n_proc
    )
    total = config.train.steps if config.train.steps > 0 else config.train.epochs * spe

    g_abstract = jax.eval_shape(generator.init_params, jax.random.key(0, impl="rbg"))
    rules = tuple(map(tuple, config.train_rules))
    g_tx, table = optim.make_optimizer(optim.adam(config.optim), g_abstract, rules)
    step_cfg = StepConfig(
        generator=generator,
        g_tx=g_tx,
        **terms,
        vgg=vgg,
        discriminator=discriminator,
        d_tx=optim.adam(config.optim, lr=config.optim.d_lr) if discriminator else None,
        ema_decay=config.optim.ema_decay,
        d_warmup=config.optim.d_warmup,
    )
    run = Run(config, workdir, kind, hparams, generator, step_cfg, mesh, train_ds, val_ds, spe, total, lr_side,
              lead=jax.process_index() == 0)  # fmt: skip
    run.say(optim.format_table(table))
    return run
