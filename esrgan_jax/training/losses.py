"""Training losses of ESRGAN: pixel (L1/MSE), VGG19 perceptual, and the relativistic average GAN losses.

The GAN losses follow BasicSR's `esrgan_model.py` exactly (vanilla GAN = BCE with logits, mean-reduced; real
label 1, fake 0): the generator loss is the symmetric relativistic form with D's real logits detached, and the
discriminator loss is split into a real half and a fake half, each weighted 0.5.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax


def l1_loss(x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean absolute error over all elements (torch `L1Loss`)."""
    return jnp.mean(jnp.abs(x - y))


def mse_loss(x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error over all elements (torch `MSELoss`)."""
    return jnp.mean(jnp.square(x - y))


PIXEL_LOSSES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {"l1": l1_loss, "mse": mse_loss}


def color_loss(sr: jax.Array, hr: jax.Array) -> jax.Array:
    """L1 between each image's channel means, [N, H, W, C] -> scalar (mean over images and channels).

    A VGG feature loss barely sees a global colour shift, and a per-pixel L1 pulls on it only weakly while the
    pixels' own errors are larger; this term pulls on exactly that shift (the colour drift the scores report).
    """
    return jnp.mean(jnp.abs(jnp.mean(sr, axis=(1, 2)) - jnp.mean(hr, axis=(1, 2))))


def bce_with_logits(logits: jax.Array, target: float) -> jax.Array:
    """Mean binary cross-entropy of `logits` against a constant label (torch `BCEWithLogitsLoss`)."""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, target)))


def ragan_generator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """Relativistic average GAN loss of the generator (unweighted).

    `0.5 * [BCE(C(x_r) - E[C(x_f)], 0) + BCE(C(x_f) - E[C(x_r)], 1)]`, with the real logits detached, so G
    gets gradients through both terms via the fake logits.

    Args:
      real_logits: D's logits on HR images, [N, 1].
      fake_logits: D's logits on generated images, [N, 1].
    """
    real = jax.lax.stop_gradient(real_logits)
    l_real = bce_with_logits(real - jnp.mean(fake_logits), 0.0)
    l_fake = bce_with_logits(fake_logits - jnp.mean(real), 1.0)
    return 0.5 * (l_real + l_fake)


def ragan_discriminator_losses(real_logits: jax.Array, fake_logits: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The two halves of the relativistic average discriminator loss, (l_d_real, l_d_fake).

    `l_d_real = 0.5 * BCE(C(x_r) - E[sg C(x_f)], 1)` and `l_d_fake = 0.5 * BCE(C(x_f) - E[sg C(x_r)], 0)`: in
    BasicSR each half is back-propagated on its own with the other side's mean detached; summing them here gives
    the same gradient. Never scaled by the GAN loss weight.

    Args:
      real_logits: D's logits on HR images, [N, 1].
      fake_logits: D's logits on (detached) generated images, [N, 1].
    """
    sg = jax.lax.stop_gradient
    l_d_real = 0.5 * bce_with_logits(real_logits - jnp.mean(sg(fake_logits)), 1.0)
    l_d_fake = 0.5 * bce_with_logits(fake_logits - jnp.mean(sg(real_logits)), 0.0)
    return l_d_real, l_d_fake


def perceptual_loss(
    features_fn: Callable[[jax.Array], dict[str, jax.Array]],
    sr: jax.Array,
    hr: jax.Array,
    layer_weights: dict[str, float],
) -> jax.Array:
    """Weighted L1 distance of VGG features, HR features detached (BasicSR `PerceptualLoss`, criterion l1).

    Args:
      features_fn: maps [N, H, W, 3] RGB in [0, 1] to {layer: [N, h, w, C]} (e.g. VGG19 conv5_4 before ReLU).
      sr: generated images [N, H, W, 3].
      hr: ground-truth images [N, H, W, 3].
      layer_weights: weight of each layer's L1 term.
    """
    # One forward over the concatenated batch: half the dispatches, same result (VGG has no batch coupling).
    feats = features_fn(jnp.concatenate([sr, hr], axis=0))
    n = sr.shape[0]
    total = jnp.zeros((), jnp.float32)
    for layer, weight in layer_weights.items():
        f = feats[layer]
        total = total + weight * l1_loss(f[:n], jax.lax.stop_gradient(f[n:]))
    return total
