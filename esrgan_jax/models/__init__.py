"""Flax models of esrgan-jax and the table that rebuilds one from a saved `kind` + hyper-parameters."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from esrgan_jax.models.discriminator import TorchBatchNorm, VGGStyleDiscriminator
from esrgan_jax.models.interface import network_input
from esrgan_jax.models.lpips import LPIPS
from esrgan_jax.models.rrdbnet import RRDBNet, pixel_unshuffle, upsample_nearest2x
from esrgan_jax.models.srcnn import SRCNN
from esrgan_jax.models.vgg import VGG16Features, VGG19Features, VGGFeatures

# kind (as written in a checkpoint's model.json) -> module class. VGG kinds share one class (arch field).
MODELS: dict[str, type[nn.Module]] = {
    "rrdbnet": RRDBNet,
    "srcnn": SRCNN,
    "vgg_discriminator": VGGStyleDiscriminator,
    "vgg19": VGGFeatures,
    "vgg16": VGGFeatures,
    "lpips": LPIPS,
}


# Compute dtypes by name (configs, CLIs); parameters always stay float32.
COMPUTE_DTYPES: dict[str, Any] = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
GENERATOR_KINDS = ("rrdbnet", "srcnn")


def compute_dtype(name: str, where: str = "dtype") -> Any:
    """The jnp dtype called `name`; a one-line UserError naming `where` (the flag or config key) otherwise."""
    from esrgan_jax.errors import UserError

    if name not in COMPUTE_DTYPES:
        raise UserError(f"{where} {name!r}: expected one of {', '.join(COMPUTE_DTYPES)}")
    return COMPUTE_DTYPES[name]


def build_model(kind: str, hparams: dict[str, Any], **overrides: Any) -> nn.Module:
    """Rebuilds the module saved as `kind` with `hparams`; `overrides` (e.g. dtype, layers) win."""
    if kind not in MODELS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(MODELS)}")
    kwargs = dict(hparams)
    if kind in ("vgg19", "vgg16"):
        kwargs["arch"] = kind
    for key in ("layers", "filters", "kernels"):
        if key in kwargs and isinstance(kwargs[key], list):
            kwargs[key] = tuple(kwargs[key])
    kwargs.update(overrides)
    return MODELS[kind](**kwargs)


__all__ = [
    "COMPUTE_DTYPES",
    "GENERATOR_KINDS",
    "LPIPS",
    "MODELS",
    "RRDBNet",
    "SRCNN",
    "TorchBatchNorm",
    "VGG16Features",
    "VGG19Features",
    "VGGFeatures",
    "VGGStyleDiscriminator",
    "build_model",
    "compute_dtype",
    "network_input",
    "pixel_unshuffle",
    "upsample_nearest2x",
]
