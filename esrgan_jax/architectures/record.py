"""What the project asks of an architecture, as one record: `Architecture`, with its export `Layout`s and
its ncnn reader (`NcnnReader`).

A record names the Flax module and everything the commands need beyond it: how a PyTorch state dict is
recognised and converted (hyper-parameters read from the tensors), how the variables are spelled in each
PyTorch key layout for export, how an ncnn graph is proven and read, and which parameters a trunk-only
fine-tune trains. How a generator is fed (the LR image, or its bicubic upsampling) and which input sizes it
takes are the module's own `pre_upsample` and `input_multiple` (`esrgan_jax.models.interface`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import flax.linen as nn

from esrgan_jax.architectures.ncnn_format import Layer
from esrgan_jax.architectures.tensors import KeyFn, StateDict

# (hparams, {"params": ..., ["batch_stats": ...]}, layout name) from a flat state dict of numpy arrays.
Converter = Callable[[StateDict], tuple[dict[str, Any], dict[str, Any], str]]


class Layout(NamedTuple):
    """One PyTorch key layout a kind is exported in (and imported from, through the same `key_fn`)."""

    key_fn: Callable[[dict[str, Any]], KeyFn]  # hparams -> (Flax variable path -> checkpoint key)
    default_key: str | None  # the .pth wrapper its ecosystem ships, e.g. Real-ESRGAN's {"params_ema": ...}
    refuse: Callable[[dict[str, Any]], str | None] = lambda hparams: None  # why these hparams cannot use it
    # (hparams, the variables' tensors) -> the whole checkpoint: adds buffers that are not variables (SwinIR's
    # position index and masks) and puts the keys in the checkpoint's own order; None: variables only, sorted.
    complete: Callable[[dict[str, Any], StateDict], StateDict] | None = None


class NcnnReader(NamedTuple):
    """An ncnn `.param` + `.bin` importer for one architecture."""

    detect: Callable[[list[Layer]], bool]  # whether a graph is meant as this architecture (cheap: layer types)
    # (param, bin) paths -> (hparams, variables, provenance for model.json's "source")
    convert: Callable[[Path, Path], tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One model kind: the `kind` written in model.json, its Flax module and what the commands ask of it.

    Attributes:
      kind: the name in model.json, `--kind` and `config.model.kind`.
      module: the flax.linen class `build_model(kind, hparams)` instantiates.
      generator: an image-to-image network that evaluate, upscale, train and interpolate take; it offers the
        generator interface (`scale`, `in_channels`, `pre_upsample`, `input_multiple`, `init_params`).
      trunk: fullmatch regex over "/"-joined parameter paths: what a trunk-only fine-tune trains (the
        default `config.train_rules`); None for a network that is not fine-tuned that way.
      fixed_hparams: constructor arguments the kind implies (e.g. `arch="vgg19"`), not stored in model.json.
      detect: whether a flat PyTorch state dict is this kind (`--kind auto`, tried in list order).
      convert: the state dict -> (hparams, variables, layout name) converter; None when the kind is read
        another way (the VGG/LPIPS loss networks by `weights_conversion`).
      scale_in_weights: False when the weights do not determine the upscale factor (SRCNN refines a bicubic
        upsampling); `--scale` then sets it.
      layouts: export layouts by name, the default first; empty when the kind is not exported.
      ncnn: the ncnn importer, if any.
    """

    kind: str
    module: type[nn.Module]
    generator: bool = False
    trunk: str | None = None
    fixed_hparams: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    detect: Callable[[StateDict], bool] | None = None
    convert: Converter | None = None
    scale_in_weights: bool = True
    layouts: Mapping[str, Layout] = dataclasses.field(default_factory=dict)
    ncnn: NcnnReader | None = None

    def build(self, hparams: Mapping[str, Any], **overrides: Any) -> nn.Module:
        """The module saved with `hparams` (JSON lists become tuples); `overrides` (e.g. dtype) win."""
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in hparams.items()}
        return self.module(**{**kwargs, **self.fixed_hparams, **overrides})
