"""Flax models of esrgan-jax, and the tables that rebuild one from a saved `kind` + hyper-parameters (derived from
the architecture records of `esrgan_jax.architectures`)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from esrgan_jax.architectures import GENERATOR_KINDS, MODELS, build_model
from esrgan_jax.architectures.compact.model import SRVGGNetCompact
from esrgan_jax.models.discriminator import TorchBatchNorm, VGGStyleDiscriminator
from esrgan_jax.models.interface import network_input
from esrgan_jax.models.lpips import LPIPS
from esrgan_jax.models.rrdbnet import RRDBNet, pixel_unshuffle, upsample_nearest2x
from esrgan_jax.models.srcnn import SRCNN
from esrgan_jax.models.vgg import VGG16Features, VGG19Features, VGGFeatures

# Compute dtypes by name (configs, CLIs); parameters always stay float32.
COMPUTE_DTYPES: dict[str, Any] = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(name: str, where: str = "dtype") -> Any:
    """The jnp dtype called `name`; a one-line UserError naming `where` (the flag or config key) otherwise."""
    from esrgan_jax.errors import UserError

    if name not in COMPUTE_DTYPES:
        raise UserError(f"{where} {name!r}: expected one of {', '.join(COMPUTE_DTYPES)}")
    return COMPUTE_DTYPES[name]


__all__ = [
    "COMPUTE_DTYPES",
    "GENERATOR_KINDS",
    "LPIPS",
    "MODELS",
    "RRDBNet",
    "SRCNN",
    "SRVGGNetCompact",
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
