"""VGG16/VGG19 feature extractors with torchvision's `features` layout, in flax.linen.

Used for ESRGAN's perceptual loss (VGG19 `conv5_4`, taken before its ReLU) and for LPIPS (VGG16). Layers are
named as in BasicSR's `vgg_arch.NAMES` (`conv1_1`, `relu1_1`, ..., `pool5`); only the convs hold parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.models.layers import TORCH_INIT

# Convs per stage; a max-pool ends each stage.
_STAGES = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_WIDTHS = (64, 128, 256, 512, 512)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def layer_names(arch: str) -> list[str]:
    """All layer names of `arch` in torchvision `features` order (index i is `features.i`)."""
    names = []
    for stage, n_conv in enumerate(_STAGES[arch], start=1):
        for k in range(1, n_conv + 1):
            names += [f"conv{stage}_{k}", f"relu{stage}_{k}"]
        names.append(f"pool{stage}")
    return names


class VGGFeatures(nn.Module):
    """[N, H, W, 3] RGB -> {layer name: [N, h, w, C]} for each name in `layers`.

    Attributes:
      arch: 'vgg19' or 'vgg16'.
      layers: layer names to return, e.g. ('conv5_4',): a `conv*` name is the output before its ReLU.
        Only the layers up to the deepest one asked for are computed.
      use_input_norm: subtract the ImageNet mean and divide by its std (input in [0, 1]).
      range_norm: first map the input from [-1, 1] to [0, 1].
      dtype: compute dtype.
    """

    arch: str = "vgg19"
    layers: Sequence[str] = ("conv5_4",)
    use_input_norm: bool = True
    range_norm: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
        if self.arch not in _STAGES:
            raise ValueError(f"VGGFeatures: arch must be one of {sorted(_STAGES)}, got {self.arch!r}")
        names = layer_names(self.arch)
        unknown = [n for n in self.layers if n not in names]
        if unknown:
            raise ValueError(f"VGGFeatures: unknown layer(s) {unknown} for {self.arch}")
        last = max(names.index(n) for n in self.layers)
        if self.range_norm:
            x = (x + 1.0) / 2.0
        if self.use_input_norm:
            x = (x - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)
        x = x.astype(self.dtype)
        out = {}
        for name in names[: last + 1]:
            if name.startswith("conv"):
                width = _WIDTHS[int(name[4]) - 1]
                x = nn.Conv(width, (3, 3), padding="SAME", kernel_init=TORCH_INIT, dtype=self.dtype, name=name)(x)
            elif name.startswith("relu"):
                x = nn.relu(x)
            else:
                x = nn.max_pool(x, (2, 2), strides=(2, 2), padding="VALID")
            if name in self.layers:
                out[name] = x.astype(jnp.float32)
        return out


def VGG19Features(layers: Sequence[str] = ("conv5_4",), **kwargs) -> VGGFeatures:  # noqa: N802
    """VGG19 features; ESRGAN's perceptual loss uses `conv5_4` before activation."""
    return VGGFeatures(arch="vgg19", layers=tuple(layers), **kwargs)


def VGG16Features(layers: Sequence[str] = ("relu5_3",), **kwargs) -> VGGFeatures:  # noqa: N802
    """VGG16 features (the LPIPS backbone uses relu1_2, relu2_2, relu3_3, relu4_3, relu5_3)."""
    return VGGFeatures(arch="vgg16", layers=tuple(layers), **kwargs)
