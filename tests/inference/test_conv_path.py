"""`esrgan_jax.inference.conv_path`: which convolution path `Upscaler` runs, `$ESRGAN_JAX_WINOGRAD`, and that the
Winograd path gives the direct path's image (float within 1e-5, 8-bit within one level) through `Upscaler`,
including parameters swapped in later (`set_params`, as training's validation does)."""

from __future__ import annotations

import numpy as np
import pytest

from esrgan_jax.errors import UserError
from esrgan_jax.inference import conv_path
from esrgan_jax.inference.upscaler import Upscaler
from esrgan_jax.models.srcnn import SRCNN
from tests.support import by_hand, tiny


def test_env_var_overrides_and_is_checked(monkeypatch):
    module, _ = tiny()
    monkeypatch.setenv(conv_path.ENV_VAR, "4")
    assert conv_path.winograd_for(module) == 4 and conv_path.for_inference(module).winograd == 4
    assert conv_path.winograd_for(SRCNN()) == 0  # no Winograd path: ignored
    monkeypatch.setenv(conv_path.ENV_VAR, "0")
    assert conv_path.for_inference(module) is module
    monkeypatch.setenv(conv_path.ENV_VAR, "3")
    with pytest.raises(UserError, match=r"^\$ESRGAN_JAX_WINOGRAD='3': expected one of 0, 2, 4, 6$"):
        conv_path.winograd_for(module)


def test_upscaler_default_follows_the_measured_table(monkeypatch):
    monkeypatch.delenv(conv_path.ENV_VAR, raising=False)
    module, params = tiny()
    up = Upscaler((module, params), tile=0)
    m = conv_path.CPU_WINOGRAD.get("RRDBNet", 0)  # the CPU backend runs this suite
    assert up.module.winograd == m
    assert (up._params is params) == (m == 0)  # direct: the parameters as given, nothing converted


@pytest.mark.parametrize("m", [4])  # each m's numerics: tests/models/test_winograd.py
def test_upscaler_on_winograd_gives_the_direct_image(monkeypatch, m):
    module, params = tiny(3)
    rng = np.random.default_rng(m)
    image = rng.random((21, 18, 3)).astype(np.float32)
    want = by_hand(module, params, image)
    monkeypatch.setenv(conv_path.ENV_VAR, str(m))
    up = Upscaler((module, params), tile=0)
    assert up.module.winograd == m
    np.testing.assert_allclose(up.upscale(image), want, rtol=0, atol=1e-5)
    eight = (image * 255).round().astype(np.uint8)
    direct8 = np.round(by_hand(module, params, eight.astype(np.float32) / 255) * 255)
    assert np.abs(up.upscale(eight).astype(float) - direct8).max() <= 1
    _, other = tiny(4)
    up.set_params(other)  # swapped-in parameters are converted too
    np.testing.assert_allclose(up.upscale(image), by_hand(module, other, image), rtol=0, atol=1e-5)
