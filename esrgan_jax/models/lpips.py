"""LPIPS v0.1 with the VGG16 backbone (Zhang et al. 2018), in flax.linen.

Numerically the same as `lpips.LPIPS(net='vgg', version='0.1')` of the `lpips` PyPI package, which BasicSR's
`calculate_lpips.py` uses (SR papers often quote the AlexNet variant instead; the two are not comparable).
Distance = sum over the five VGG16 stages (relu1_2 .. relu5_3) of the spatial mean of a learned 1x1 projection
(`lin0`..`lin4`, no bias) of the squared difference of channel-unit-normalised features.

Variables: `params/net/conv{s}_{k}/{kernel,bias}` (the backbone, torchvision `features.N`) and
`params/lin{i}/kernel` [1, 1, C, 1] (the `lin{i}.model.1.weight` of the lpips package).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from esrgan_jax.models.vgg import VGGFeatures

LPIPS_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
# v0.1 ScalingLayer: maps [-1, 1] inputs to ImageNet-normalised ones (v0.0 omitted it; a known bug).
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
_EPS = 1e-10  # added to the feature norm, as lpips.normalize_tensor does


def normalize_channels(feat: jax.Array) -> jax.Array:
    """[N, H, W, C] -> the same, each pixel's feature vector divided by its L2 norm (+1e-10)."""
    return feat / (jnp.sqrt(jnp.sum(feat * feat, axis=-1, keepdims=True)) + _EPS)


class LPIPS(nn.Module):
    """LPIPS distance: ([N, H, W, 3], [N, H, W, 3]) in [-1, 1] -> [N] (0 for identical images).

    Attributes:
      dtype: compute dtype of the backbone (features are normalised and compared in float32).
    """

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        if x.shape != y.shape or x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"LPIPS: expected two [N, H, W, 3] images of one shape, got {x.shape} and {y.shape}")
        net = VGGFeatures(arch="vgg16", layers=LPIPS_LAYERS, use_input_norm=False, dtype=self.dtype, name="net")
        shift, scale = jnp.asarray(SHIFT), jnp.asarray(SCALE)
        fx, fy = net((x - shift) / scale), net((y - shift) / scale)
        total = jnp.zeros((x.shape[0],), jnp.float32)
        for i, name in enumerate(LPIPS_LAYERS):
            diff = (normalize_channels(fx[name]) - normalize_channels(fy[name])) ** 2
            lin = nn.Conv(1, (1, 1), use_bias=False, name=f"lin{i}")(diff)
            total = total + jnp.mean(lin, axis=(1, 2, 3))
        return total


def lpips_distance(module: LPIPS, params: dict[str, Any], a: jax.Array, b: jax.Array) -> jax.Array:
    """LPIPS between images in [0, 1] ([N, H, W, 3] or [H, W, 3]); returns [N] (or a scalar).

    Args:
      module: an `LPIPS` module (e.g. from `checkpoint.load_lpips`).
      params: its params.
      a, b: RGB images in [0, 1]; mapped to [-1, 1] here, as `lpips.LPIPS(normalize=True)` does.

    Returns:
      The distances, float32.
    """
    single = a.ndim == 3
    a, b = (jnp.asarray(v, jnp.float32)[None] if single else jnp.asarray(v, jnp.float32) for v in (a, b))
    d = module.apply({"params": params}, 2.0 * a - 1.0, 2.0 * b - 1.0)
    return d[0] if single else d
