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
from esrgan_jax.models.vgg import layer_names
from esrgan_jax.training import checkpoints
from esrgan_jax.training.selection import SELECT_MODES

PIXEL_LOSSES = ("l1", "mse")
# The feature network of the perceptual loss and the layer it is read at by default (before its ReLU).
PERCEPTUAL_NETS = {"vgg19": "conv5_4", "vgg16": "conv5_3"}


def is_none(value: Any) -> bool:
    """A config path switched off: "none" or empty."""
    return str(value).strip().lower() in ("", "none")


@dataclasses.dataclass(frozen=True)
class Sources:
    """Where a run's weights come from. A model directory is None when that network starts from scratch (or
    is not used); a `saved_step` (the workdir's own newest checkpoint) wins over all of them. The directories
    are read by `training.weights.load_weights`."""

    saved_step: int | None
    generator: Path | None
    vgg: Path | None
    discriminator: Path | None
    lpips: Path | None


def resolve_select(config: ml_collections.ConfigDict) -> str | None:
    """The metric `config.train.select` selects by, or None for "last"; one-line errors for impossible choices.

    "auto" is LPIPS for a perceptual loss when an LPIPS model is configured, PSNR-Y with any other validation
    set, and the last step without one.
    """
    select, has_val, has_lpips = config.train.select, not is_none(config.data.val), not is_none(config.train.lpips)
    if select not in SELECT_MODES:
        raise UserError(f"config.train.select: expected one of {', '.join(map(repr, SELECT_MODES))}, got {select!r}")
    if select == "auto":
        if not has_val:
            return None
        return "lpips" if has_lpips and config.loss.perceptual_weight > 0 else "psnr_y"
    if select == "last":
        return None
    if not has_val:
        raise UserError(f"config.train.select={select!r} needs a validation set, but config.data.val is 'none'")
    if select == "lpips" and not has_lpips:
        raise UserError("config.train.select='lpips' needs config.train.lpips (a converted LPIPS model directory)")
    return select


def _stage_ends(net: str) -> dict[str, str]:
    """`conv3` -> the last conv of stage 3 of `net` (`conv3_4` in VGG19, `conv3_3` in VGG16)."""
    ends = {}
    for name in layer_names(net):
        if name.startswith("conv"):
            ends[name.split("_")[0]] = name
    return ends


def perceptual_layers(loss: ml_collections.ConfigDict) -> tuple[tuple[str, float], ...]:
    """`config.loss.perceptual_layers` checked, as (layer, weight) pairs; () means the net's conv5 alone.

    A stage name (`conv3`) stands for the stage's last conv, so one recipe names the same layers in VGG19 and VGG16.
    """
    pairs, net = loss.perceptual_layers, loss.perceptual_net
    if not pairs:
        return ((PERCEPTUAL_NETS[net], 1.0),)
    names, ends = layer_names(net), _stage_ends(net)
    out = []
    for pair in pairs:
        ok = isinstance(pair, (tuple, list)) and len(pair) == 2 and (pair[0] in names or pair[0] in ends)
        if not ok or isinstance(pair[1], bool) or not isinstance(pair[1], (int, float)):
            raise UserError(
                f"config.loss.perceptual_layers: {pair!r} is not a (layer, weight) pair with a {net} layer such as "
                f"'{PERCEPTUAL_NETS[net]}' or 'conv5' and a number"
            )
        out.append((ends.get(pair[0], pair[0]), float(pair[1])))
    return tuple(out)


def converted_architecture(config: ml_collections.ConfigDict, kind: str, hparams: dict) -> tuple[str, dict]:
    """config.model's kind and hparams, unless config.init.generator is a model directory of another generator
    kind: its model.json then says what the network is, so any recipe fine-tunes any converted generator."""
    if is_none(config.init.generator):
        return kind, hparams
    try:
        meta = read_meta(config.init.generator)
    except CheckpointError:  # find_sources names the missing directory, with the conversion command
        return kind, hparams
    if meta["kind"] == kind or meta["kind"] not in GENERATOR_KINDS:
        return kind, hparams  # check_hparams compares them, or names the kind that is no generator
    return meta["kind"], dict(meta["hparams"])


def check_config(config: ml_collections.ConfigDict) -> tuple[str, dict[str, Any]]:
    """The generator's kind and hyper-parameters, after checking the values a run cannot start without."""
    hparams = dict(config.model)
    kind = hparams.pop("kind")
    if kind not in GENERATOR_KINDS:
        raise UserError(f"config.model.kind: expected one of {', '.join(map(repr, GENERATOR_KINDS))}, got {kind!r}")
    kind, hparams = converted_architecture(config, kind, hparams)
    compute_dtype(config.train.dtype, "config.train.dtype:")
    if config.loss.pixel not in PIXEL_LOSSES:
        raise UserError(f"config.loss.pixel: expected 'l1' or 'mse', got {config.loss.pixel!r}")
    net = config.loss.perceptual_net
    if net not in PERCEPTUAL_NETS:
        raise UserError(f"config.loss.perceptual_net: expected one of {', '.join(PERCEPTUAL_NETS)}, got {net!r}")
    perceptual_layers(config.loss)
    scale = int(hparams.get("scale", config.data.scale))
    if scale != config.data.scale:
        converted = f"{config.init.generator} (a {kind} model): scale"
        where = "config.model.scale" if kind == config.model.kind else converted
        raise UserError(f"{where}={scale} but config.data.scale={config.data.scale}; make them agree")
    if config.optim.d_warmup < 0 or (config.optim.d_warmup and not config.loss.gan_weight > 0):
        raise UserError(
            f"config.optim.d_warmup={config.optim.d_warmup}: expected 0, or a number of steps with a GAN loss "
            "(config.loss.gan_weight > 0)"
        )
    if config.loss.gan_weight > 0:
        hr_side = config.data.lr_patch * scale
        if hr_side != config.discriminator.input_size:
            raise UserError(
                f"config.data.lr_patch={config.data.lr_patch} gives {hr_side}x{hr_side} HR patches but "
                f"config.discriminator.input_size={config.discriminator.input_size}; they must be equal"
            )
    _check_guards(config)
    return kind, hparams


def _check_guards(config: ml_collections.ConfigDict) -> None:
    """The fields of best-model selection, early stopping and collapse detection."""
    tcfg = config.train
    metric = resolve_select(config)
    if not isinstance(tcfg.patience, int) or tcfg.patience < 0:
        raise UserError(f"config.train.patience: expected a whole number >= 0 (0 = off), got {tcfg.patience!r}")
    if tcfg.patience and metric is None:
        why = "config.train.select is 'last'" if tcfg.select == "last" else "config.data.val is 'none'"
        raise UserError(f"config.train.patience={tcfg.patience} needs a metric to watch, but {why}")
    if not 0 <= tcfg.collapse_fraction < 1:
        raise UserError(
            f"config.train.collapse_fraction: expected a number in [0, 1) (0 = off), got {tcfg.collapse_fraction!r}"
        )


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
    saved_step = checkpoints.saved_step(workdir)
    resume = saved_step is not None
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
    return Sources(saved_step, generator, vgg, discriminator, lpips)
