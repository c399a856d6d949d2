"""Every model kind of esrgan-jax, one record each (`record.Architecture`), listed once in `ARCHITECTURES`.

An architecture's folder holds its record (`__init__.py`) beside what the record points at: the PyTorch key
layouts and hyper-parameter inference (`torch_keys.py`), the ncnn graph proof (`ncnn.py`) where there is one,
and the Flax module where it is not in `esrgan_jax.models`. The tables the commands use are derived here from
the list: the module of each kind (`MODELS`, `build_model`), the generator kinds that evaluate, upscale, train
and interpolate take, and the trunk regex of the default train rules; `weights_conversion` derives its `--kind`
dispatch, ncnn readers and export layouts from the same list. Adding an architecture is its folder and one
line below (docs/adding_an_architecture.md).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn

from esrgan_jax.architectures import compact, loss_networks, rrdbnet, srcnn, swinir, vgg_discriminator
from esrgan_jax.architectures.record import Architecture, Layout, NcnnReader

# Order matters where a file is recognised: `--kind auto` takes the first record whose `detect` accepts a
# state dict, the ncnn import the first whose reader accepts a graph.
ARCHITECTURES: tuple[Architecture, ...] = (
    rrdbnet.ARCHITECTURE,
    vgg_discriminator.ARCHITECTURE,
    loss_networks.VGG19,
    loss_networks.VGG16,
    srcnn.ARCHITECTURE,
    loss_networks.LPIPS_VGG,
    compact.ARCHITECTURE,
    swinir.ARCHITECTURE,
)

BY_KIND: dict[str, Architecture] = {arch.kind: arch for arch in ARCHITECTURES}
# kind (as written in a checkpoint's model.json) -> module class.
MODELS: dict[str, type[nn.Module]] = {arch.kind: arch.module for arch in ARCHITECTURES}
GENERATOR_KINDS: tuple[str, ...] = tuple(arch.kind for arch in ARCHITECTURES if arch.generator)


def architecture(kind: str) -> Architecture:
    """The record of `kind`; a ValueError listing the known kinds otherwise."""
    if kind not in BY_KIND:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(BY_KIND)}")
    return BY_KIND[kind]


def build_model(kind: str, hparams: dict[str, Any], **overrides: Any) -> nn.Module:
    """Rebuilds the module saved as `kind` with `hparams`; `overrides` (e.g. dtype, layers) win."""
    return architecture(kind).build(hparams, **overrides)


def trunk_regex() -> str:
    """The trunks of every generator that has one, as one fullmatch regex (the default train rules)."""
    return "|".join(dict.fromkeys(arch.trunk for arch in ARCHITECTURES if arch.generator and arch.trunk))


__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "BY_KIND",
    "GENERATOR_KINDS",
    "Layout",
    "MODELS",
    "NcnnReader",
    "architecture",
    "build_model",
    "trunk_regex",
]
