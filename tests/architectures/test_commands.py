"""A converted compact and a converted SwinIR through every command, with no flag that names their kind (model.json
says it): evaluate and upscale give the network's own output, interpolate blends two models of a kind, and a
fine-tune (any recipe, here `mse`) trains the kind's trunk (a compact's whole body, SwinIR's residual Swin
transformer blocks) and exports the kind; a SwinIR also trains from scratch from `config.model` alone."""

from __future__ import annotations

import json
from pathlib import Path

import jax
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
from esrgan_jax.training.optim import param_paths
from esrgan_jax.upscale import main as upscale_main
from testkit.train_assets import tiny_config
from tests.support import by_hand
from weights_conversion import convert_file
from weights_conversion.interpolate import interpolate

SWINIR = dict(upsampler="pixelshuffledirect", upscale=4, embed_dim=8, depths=[2], num_heads=[2], window_size=4)
# kind -> (hparams of the converted models; a layer in the trunk and one outside it: None when all of it trains)
KINDS = {
    "compact": ({"num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_conv": 2, "scale": 4}, ("body_5", None)),
    "swinir": ({"in_chans": 3, "embed_dim": 8, "depths": [2], "num_heads": [2], "window_size": 4, "mlp_ratio": 4.0,
                "upsampler": "pixelshuffledirect", "resi_connection": "1conv", "scale": 4, "img_range": 1.0,
                "num_feat": 64, "img_size": 64}, ("layers_0", "conv_first")),
}  # fmt: skip


@pytest.fixture(scope="module", params=list(KINDS))
def models(request, tmp_path_factory, random_compact, random_swinir) -> tuple[str, Path]:
    """(kind, a folder holding two converted x4 models of that kind, `a` and `b`)."""
    root = tmp_path_factory.mktemp(request.param)
    for name, seed in (("a", 0), ("b", 1)):
        if request.param == "compact":
            model = random_compact(seed, num_feat=8, num_conv=2)
        else:
            model = random_swinir(seed, **SWINIR)
        torch.save({"params": model.state_dict()}, root / f"{name}.pth")
        convert_file(root / f"{name}.pth", root / name)
    return request.param, root


def test_evaluate_and_upscale_give_the_networks_output(models, tmp_path, capsys):
    _, root = models
    hr = skdata.astronaut()[100:148, 180:220]
    write_image(tmp_path / "Toy" / "a.png", hr)
    summary = ev.evaluate([str(tmp_path / "Toy")], [f"c={root / 'a'}"], tmp_path / "eval", progress=False)
    module, params = load_generator(root / "a")
    lr = bicubic_downscale(hr, 4)
    want = np.round(by_hand(module, params, lr.astype(np.float32) / 255) * 255)
    got = read_uint8(tmp_path / "eval" / "images" / "Toy" / "c" / "a.png")
    assert np.abs(got - want).max() <= 1.0 and summary["results"]["c"]["Toy"]["n"] == 1
    write_image(tmp_path / "lr.png", lr)
    with pytest.raises(SystemExit) as e:
        run_cli(lambda: upscale_main([str(tmp_path / "lr.png"), "--weights", str(root / "a"), "-o",
                                      str(tmp_path / "up"), "--no-progress"]))  # fmt: skip
    assert e.value.code == 0, capsys.readouterr().err
    np.testing.assert_array_equal(read_uint8(tmp_path / "up" / "lr_out.png"), got)  # the same tiles, the same pixels


def test_interpolate_blends_two_models(models, tmp_path):
    kind, root = models
    interpolate(root / "a", root / "b", 0.25, tmp_path / "mix")
    assert read_meta(tmp_path / "mix")["kind"] == kind
    (_, a), (_, b), (_, mix) = (load_variables(p) for p in (root / "a", root / "b", tmp_path / "mix"))
    for path, value in zip(param_paths(mix["params"]), jax.tree.leaves(mix["params"]), strict=True):
        want = 0.75 * by_path(a["params"], path).astype(np.float64) + 0.25 * by_path(b["params"], path)
        np.testing.assert_array_equal(value, want.astype(np.float32))


def test_a_recipe_fine_tunes_a_converted_model(models, assets, tmp_path, capsys):
    kind, root = models
    hparams, (trunk, outside) = KINDS[kind]
    config = tiny_config("mse", assets)  # config.model is the recipe's tiny RRDBNet
    config.init.generator = str(root / "a")
    assert preflight.check_config(config) == (kind, hparams)
    result = train.train_and_evaluate(config, tmp_path / "run")
    out = capsys.readouterr().out
    assert (result["start"], result["step"]) == ("converted", 2)
    assert "start: generator from converted weights" in out
    meta = json.loads((tmp_path / "run" / "export_last" / "model.json").read_text())
    assert (meta["kind"], meta["hparams"]) == (kind, hparams)
    _, before = load_variables(root / "a")
    _, after = load_variables(tmp_path / "run" / "export_last")
    for path, value in zip(param_paths(after["params"]), jax.tree.leaves(after["params"]), strict=True):
        layer = path.split("/")[0]
        if outside is None or layer == trunk:  # a compact's whole body trains, the last conv and a PReLU included
            assert not np.array_equal(value, by_path(before["params"], path)), path
        elif layer == outside:
            np.testing.assert_array_equal(value, by_path(before["params"], path))
    config.data.scale = 2
    with pytest.raises(UserError) as e:
        preflight.check_config(config)
    assert str(e.value) == (f"{root / 'a'} (a {kind} model): scale=4 but config.data.scale=2; make them agree")


def by_path(tree: dict, path: str) -> np.ndarray:
    for name in path.split("/"):
        tree = tree[name]
    return tree


def test_a_swinir_trains_from_scratch_from_config_model(assets, tmp_path, capsys):
    config = tiny_config("mse", assets)
    config.model = {**KINDS["swinir"][0], "kind": "swinir", "depths": (1,), "num_heads": (2,), "scale": 4}
    config.init.generator = "none"
    config.train_rules = ((".*", "train"),)
    result = train.train_and_evaluate(config, tmp_path / "run")
    assert (result["start"], result["step"]) == ("scratch", 2), capsys.readouterr().out
    meta = json.loads((tmp_path / "run" / "export_last" / "model.json").read_text())
    assert (meta["kind"], meta["hparams"]["depths"], meta["hparams"]["upsampler"]) == (
        "swinir",
        [1],
        "pixelshuffledirect",
    )
