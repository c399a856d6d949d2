"""What a training run needs before anything is read, written or compiled: checked config values, and where
each set of weights comes from (a workdir checkpoint, converted model directories, or none)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import ml_collections

from esrgan_jax.errors import UserError
from esrgan_jax.models import GENERATOR_KINDS, compute_dtype
from esrgan_jax.models.store import CheckpointError, read_meta, resolve_model_dir
from esrgan_jax.training import checkpoints

PIXEL_LOSSES = ("l1", "mse")
# The feature network of the perceptual loss and the layer it is read at by default (before its ReLU).
PERCEPTUAL_NETS = {"vgg19": "conv5_4", "vgg16": "conv5_3"}


def is_none(value: Any) -> bool:
    """A config path switched off: "none" or empty."""
    return str(value).strip().lower() in ("", "none")


@dataclasses.dataclass(frozen=True)
class Sources:
    """Where a run's weights come from. A model directory is None when that network starts from scratch (or
    is not used); `resume` means the workdir's own checkpoint wins over all of them."""

    resume: bool
    generator: Path | None
    vgg: Path | None
    discriminator: Path | None
    lpips: Path | None


def check_config(config: ml_collections.ConfigDict) -> tuple[str, dict[str, Any]]:
    """The generator's kind and hyper-parameters, after checking the values a run cannot start without."""
    hparams = dict(config.model)
    kind = hparams.pop("kind")
    if kind not in GENERATOR_KINDS:
        raise UserError(f"config.model.kind: expected one of {', '.join(map(repr, GENERATOR_KINDS))}, got {kind!r}")
    compute_dtype(config.train.dtype, "config.train.dtype:")
    if config.loss.pixel not in PIXEL_LOSSES:
        raise UserError(f"config.loss.pixel: expected 'l1' or 'mse', got {config.loss.pixel!r}")
    net = config.loss.perceptual_net
    if net not in PERCEPTUAL_NETS:
        raise UserError(f"config.loss.perceptual_net: expected one of {', '.join(PERCEPTUAL_NETS)}, got {net!r}")
    scale = int(hparams.get("scale", config.data.scale))
    if scale != config.data.scale:
        raise UserError(f"config.model.scale={scale} but config.data.scale={config.data.scale}; make them agree")
    if config.loss.gan_weight > 0:
        hr_side = config.data.lr_patch * scale
        if hr_side != config.discriminator.input_size:
            raise UserError(
                f"config.data.lr_patch={config.data.lr_patch} gives {hr_side}x{hr_side} HR patches but "
                f"config.discriminator.input_size={config.discriminator.input_size}; they must be equal"
            )
    return kind, hparams


def require_model_dir(path: str, what: str, pth: str, key: str) -> Path:
    """The model directory at `path`, or one line naming the missing file and the conversion command."""
    try:
        return resolve_model_dir(path)
    except CheckpointError:
        hint = " (or --config.init.generator=none to train from scratch)" if key == "init.generator" else ""
        raise UserError(
            f"{Path(path) / 'model.json'}: converted {what} not found (config.{key}); convert it first: "
            f"python -m weights_conversion {pth} {path}{hint}"
        ) from None


def check_hparams(mdir: Path, kind: str, hparams: dict[str, Any], key: str) -> None:
    """Converted weights must be of the configured architecture: a mismatch is one line naming both."""
    meta = read_meta(mdir)
    if meta["kind"] != kind:
        raise UserError(f"{mdir}: holds a {meta['kind']!r} model but config.{key}.kind is {kind!r}")
    for name, value in hparams.items():
        saved = meta["hparams"].get(name, value)
        if saved != value and not (isinstance(saved, list) and tuple(saved) == tuple(value)):
            raise UserError(f"{mdir}: {name}={saved!r} but config.{key}.{name}={value!r}; make them agree")


def find_sources(config: ml_collections.ConfigDict, workdir: Path, kind: str, hparams: dict[str, Any]) -> Sources:
    """Decides where every network's weights come from and checks that they exist and fit the config."""
    init, loss = config.init, config.loss
    resume = checkpoints.has_checkpoint(workdir)
    generator = vgg = discriminator = lpips = None
    if not resume and not is_none(init.generator):
        generator = require_model_dir(init.generator, "generator", init.generator_pth, "init.generator")
        check_hparams(generator, kind, hparams, "model")
    if loss.perceptual_weight > 0:
        net = loss.perceptual_net
        vgg = require_model_dir(init[net], net.upper(), init[f"{net}_pth"], f"init.{net}")
        check_hparams(vgg, net, {}, "init")
    if not is_none(config.train.lpips):
        lpips = require_model_dir(config.train.lpips, "LPIPS", "--kind lpips vgg16-397923af.pth", "train.lpips")
    if loss.gan_weight > 0 and not resume and not is_none(init.discriminator):
        discriminator = require_model_dir(
            init.discriminator, "discriminator", "DISCRIMINATOR.pth", "init.discriminator"
        )
    return Sources(resume, generator, vgg, discriminator, lpips)
