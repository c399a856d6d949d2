"""esrgan_jax/training/collapse.py: the spatial standard deviation the flat-output check compares, and the
one-line warnings of `CollapseWatch` (flat output below the configured fraction, a discriminator that separated
every real from every fake logit), each at its threshold."""

from __future__ import annotations

import numpy as np
import pytest

from esrgan_jax.training.collapse import CollapseWatch, spatial_std


def test_spatial_std_is_the_per_channel_population_std_averaged():
    img = np.zeros((2, 2, 3), np.uint8)
    img[..., 0] = [[0, 0], [255, 255]]  # std 127.5
    img[..., 1] = [[10, 20], [30, 40]]  # std sqrt(125)
    # channel 2 constant: std 0
    assert spatial_std(img) == pytest.approx((127.5 + np.sqrt(125.0) + 0.0) / 3, abs=1e-12)
    assert spatial_std(np.array([[1.0, 3.0], [1.0, 3.0]])) == 1.0  # a 2-D (grayscale) image: one channel
    assert spatial_std(np.full((5, 7, 3), 0.5)) == 0.0
    # pixels swapped around: the same std; the channels are not mixed
    rng = np.random.default_rng(0)
    x = rng.random((6, 4, 3))
    perm = rng.permutation(24)
    assert spatial_std(x.reshape(24, 3)[perm].reshape(4, 6, 3)) == pytest.approx(spatial_std(x), abs=1e-12)
    assert spatial_std(x) == pytest.approx(np.mean([x[..., c].std() for c in range(3)]), abs=1e-12)


def test_flat_output_warns_strictly_below_the_fraction():
    watch = CollapseWatch(0.2)
    assert watch.flat_output(7, 0.0) == (
        "warning: step 7: generator output collapsed: its spatial std is 0.000 of the HR "
        "images' (below config.train.collapse_fraction=0.2): flat, gray or black output"
    )
    assert "its spatial std is 0.199 of the HR" in watch.flat_output(3, 0.1994)
    assert watch.flat_output(7, 0.2) is None and watch.flat_output(7, 0.97) is None
    assert watch.flat_output(7, float("nan")) is None  # not a number: no claim either way
    assert CollapseWatch(0.0).flat_output(7, 0.0) is None  # 0 turns the check off
    assert "collapse_fraction=0.05)" in CollapseWatch(0.05).flat_output(1, 0.01)


def test_separated_warns_only_when_every_gan_step_separated():
    watch = CollapseWatch(0.2)
    assert watch.separated(9, 4, 4.0) == (
        "warning: step 9: the discriminator separated every real from every fake logit (min real > max fake) on "
        "all 4 steps since the last validation: it wins outright (GAN collapse)"
    )
    assert watch.separated(9, 4, 3.0) is None  # one step where the logits overlapped
    assert watch.separated(9, 0, 0.0) is None  # no GAN step since the last validation
    assert watch.separated(2, 1, 1.0).startswith("warning: step 2: the discriminator separated") and "all 1 steps" in (
        watch.separated(2, 1, 1.0)
    )
    assert CollapseWatch(0.0).separated(9, 4, 4.0) is not None  # collapse_fraction only switches the flat check


def test_spatial_std_ratios_of_upscaled_and_flat_images():
    rng = np.random.default_rng(1)
    lr = rng.integers(0, 256, (8, 6, 3), dtype=np.uint8)
    nearest = np.repeat(np.repeat(lr, 4, axis=0), 4, axis=1)  # every pixel 16 times: the same distribution
    assert spatial_std(nearest) == pytest.approx(spatial_std(lr), rel=1e-12)
    gray = np.full_like(nearest, 128)
    ratio = spatial_std(gray) / spatial_std(nearest)
    assert ratio == 0.0 and CollapseWatch(0.2).flat_output(1, ratio) is not None
    half = (nearest.astype(np.float64) - 127.5) * 0.1 + 127.5  # contrast cut to a tenth
    assert spatial_std(half) / spatial_std(nearest) == pytest.approx(0.1, rel=1e-12)
