"""esrgan_jax/training/preflight.py: the one-line errors of the guard fields (select, patience,
collapse_fraction), what `select: auto` resolves to, and where `find_sources` takes each network's weights from
(with the conversion command when a model directory is missing or of another architecture)."""

from __future__ import annotations

import pytest

from esrgan_jax.errors import UserError
from esrgan_jax.training import preflight
from testkit.train_assets import tiny_config as tiny


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("select", "best", "config.train.select: expected one of 'auto', 'psnr_y', 'lpips', 'last', got 'best'"),
        ("select", "lpips", "config.train.select='lpips' needs config.train.lpips (a converted LPIPS model directory)"),
        ("patience", -1, "config.train.patience: expected a whole number >= 0 (0 = off), got -1"),
        ("collapse_fraction", 1.5, "config.train.collapse_fraction: expected a number in [0, 1) (0 = off), got 1.5"),
    ],
)
def test_guard_config_errors_are_one_line(assets, field, value, message):
    config = tiny("mse", assets)
    config.train[field] = value
    with pytest.raises(UserError) as e:
        preflight.check_config(config)
    assert str(e.value) == message


@pytest.mark.parametrize(("name", "warmup"), [("mse", 10), ("perceptual_esrgan", -1)])
def test_discriminator_warmup_needs_a_gan_loss_and_a_step_count(assets, name, warmup):
    config = tiny(name, assets)
    config.optim.d_warmup = warmup
    with pytest.raises(UserError) as e:
        preflight.check_config(config)
    assert str(e.value) == (
        f"config.optim.d_warmup={warmup}: expected 0, or a number of steps with a GAN loss (config.loss.gan_weight > 0)"
    )
    config.optim.d_warmup = 0
    preflight.check_config(config)


def test_check_config_returns_kind_and_hparams(assets):
    assert preflight.check_config(tiny("mse", assets)) == (
        "rrdbnet",
        {"scale": 4, "num_feat": 8, "num_block": 1, "num_grow_ch": 8},
    )


def test_patience_needs_a_metric(assets):
    config = tiny("mse", assets, patience=3, select="last")
    with pytest.raises(UserError) as e:
        preflight.check_config(config)
    assert str(e.value) == "config.train.patience=3 needs a metric to watch, but config.train.select is 'last'"
    config = tiny("mse", assets, patience=3)
    config.data.val = "none"
    with pytest.raises(UserError) as e:
        preflight.check_config(config)
    assert str(e.value) == "config.train.patience=3 needs a metric to watch, but config.data.val is 'none'"


def test_auto_selects_lpips_for_a_perceptual_loss_with_lpips_else_psnr(assets):
    config = tiny("mse", assets)
    assert preflight.resolve_select(config) == "psnr_y"
    config.loss.perceptual_weight = 1.0
    assert preflight.resolve_select(config) == "psnr_y"  # no LPIPS model to select by
    config.train.lpips = "models/lpips"
    assert preflight.resolve_select(config) == "lpips"
    config.data.val = "none"
    assert preflight.resolve_select(config) is None  # nothing validated: the last step
    config.train.select = "psnr_y"
    with pytest.raises(UserError) as e:
        preflight.resolve_select(config)
    assert str(e.value) == "config.train.select='psnr_y' needs a validation set, but config.data.val is 'none'"


@pytest.mark.parametrize(("value", "none"), [("none", True), (" None ", True), ("", True), ("models/x", False)])
def test_is_none(value, none):
    assert preflight.is_none(value) is none


def test_find_sources_takes_the_converted_directories_and_names_a_missing_one(assets, tmp_path):
    config = tiny("perceptual", assets)
    kind, hparams = preflight.check_config(config)
    sources = preflight.find_sources(config, tmp_path / "run", kind, hparams)
    assert sources == preflight.Sources(None, assets / "gen", assets / "vgg19", None, None)
    config.train.lpips = str(tmp_path / "lpips")
    with pytest.raises(UserError) as e:
        preflight.find_sources(config, tmp_path / "run", kind, hparams)
    assert str(e.value) == (
        f"{tmp_path / 'lpips' / 'model.json'}: converted LPIPS not found (config.train.lpips); convert it first: "
        f"python -m weights_conversion --kind lpips vgg16-397923af.pth {tmp_path / 'lpips'}"
    )


def test_find_sources_refuses_weights_of_another_architecture(assets, tmp_path):
    config = tiny("mse", assets)
    config.model.num_feat = 16
    kind, hparams = preflight.check_config(config)
    with pytest.raises(UserError) as e:
        preflight.find_sources(config, tmp_path, kind, hparams)
    assert str(e.value) == f"{assets / 'gen'}: num_feat=8 but config.model.num_feat=16; make them agree"
