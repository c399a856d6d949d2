"""A converted compact through every command, with no flag that names its kind (model.json says it): evaluate and
upscale give the network's own output, interpolate blends two compacts, and a fine-tune (any recipe, here `mse`)
trains its body and exports a compact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data as skdata

from esrgan_jax import evaluate as ev
from esrgan_jax import load_generator, train
from esrgan_jax.errors import UserError, run_cli
from esrgan_jax.image import bicubic_downscale, read_uint8, write_image
from esrgan_jax.models.store import load_variables, read_meta
from esrgan_jax.training import preflight
from esrgan_jax.upscale import main as upscale_main
from testkit.train_assets import tiny_config
from tests.support import by_hand
from weights_conversion import convert_file
from weights_conversion.interpolate import interpolate

HPARAMS = {"num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_conv": 2, "scale": 4}


@pytest.fixture(scope="module")
def compacts(tmp_path_factory, random_compact) -> Path:
    """Two converted x4 compacts, `a` and `b`, under one folder."""
    root = tmp_path_factory.mktemp("compacts")
    for name, seed in (("a", 0), ("b", 1)):
        torch.save({"params": random_compact(seed, num_feat=8, num_conv=2).state_dict()}, root / f"{name}.pth")
        convert_file(root / f"{name}.pth", root / name)
    return root


def test_evaluate_and_upscale_give_the_networks_output(compacts, tmp_path, capsys):
    hr = skdata.astronaut()[100:148, 180:220]
    write_image(tmp_path / "Toy" / "a.png", hr)
    summary = ev.evaluate([str(tmp_path / "Toy")], [f"c={compacts / 'a'}"], tmp_path / "eval", progress=False)
    module, params = load_generator(compacts / "a")
    lr = bicubic_downscale(hr, 4)
    want = np.round(by_hand(module, params, lr.astype(np.float32) / 255) * 255)
    got = read_uint8(tmp_path / "eval" / "images" / "Toy" / "c" / "a.png")
    assert np.abs(got - want).max() <= 1.0 and summary["results"]["c"]["Toy"]["n"] == 1
    write_image(tmp_path / "lr.png", lr)
    with pytest.raises(SystemExit) as e:
        run_cli(lambda: upscale_main([str(tmp_path / "lr.png"), "--weights", str(compacts / "a"), "-o",
                                      str(tmp_path / "up"), "--no-progress"]))  # fmt: skip
    assert e.value.code == 0, capsys.readouterr().err
    np.testing.assert_array_equal(read_uint8(tmp_path / "up" / "lr_out.png"), got)  # the same tiles, the same pixels


def test_interpolate_blends_two_compacts(compacts, tmp_path):
    interpolate(compacts / "a", compacts / "b", 0.25, tmp_path / "mix")
    assert read_meta(tmp_path / "mix")["kind"] == "compact"
    (_, a), (_, b), (_, mix) = (load_variables(p) for p in (compacts / "a", compacts / "b", tmp_path / "mix"))
    for layer in ("body_0", "body_5"):  # a conv and a PReLU
        for leaf, value in mix["params"][layer].items():
            want = 0.75 * a["params"][layer][leaf].astype(np.float64) + 0.25 * b["params"][layer][leaf]
            np.testing.assert_array_equal(value, want.astype(np.float32))


def test_a_recipe_fine_tunes_a_converted_compact(compacts, assets, tmp_path, capsys):
    config = tiny_config("mse", assets)  # config.model is the recipe's tiny RRDBNet
    config.init.generator = str(compacts / "a")
    assert preflight.check_config(config) == ("compact", HPARAMS)
    result = train.train_and_evaluate(config, tmp_path / "run")
    out = capsys.readouterr().out
    assert (result["start"], result["step"]) == ("converted", 2)
    assert "start: generator from converted weights" in out
    meta = json.loads((tmp_path / "run" / "export_last" / "model.json").read_text())
    assert (meta["kind"], meta["hparams"]) == ("compact", HPARAMS)
    _, before = load_variables(compacts / "a")
    _, after = load_variables(tmp_path / "run" / "export_last")
    for layer in ("body_0", "body_1", "body_6"):  # its whole body trains, the last conv and a PReLU included
        for leaf in after["params"][layer]:
            assert not np.array_equal(after["params"][layer][leaf], before["params"][layer][leaf]), (layer, leaf)
    config.data.scale = 2
    with pytest.raises(UserError) as e:
        preflight.check_config(config)
    assert str(e.value) == (f"{compacts / 'a'} (a compact model): scale=4 but config.data.scale=2; make them agree")
