"""End to end: every config trains 2 steps with tiny overrides; resume is exact; kills, NaNs and missing weights.
The `assets` fixture (tiny HR folder, generator, VGG19) is in tests/conftest.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from esrgan_jax import train
from esrgan_jax.errors import run_cli
from esrgan_jax.models.store import load_generator, load_variables
from esrgan_jax.training import checkpoints, preflight, trainer
from esrgan_jax.training.defaults import base_config
from testkit.train_assets import TINY_G
from testkit.train_assets import tiny_config as tiny

REPO = Path(__file__).resolve().parents[1]
CONFIGS = ("mse", "perceptual", "perceptual_esrgan", "esrgan_x4", "psnr_x4", "demo", "srcnn")


@pytest.mark.parametrize("name", CONFIGS)
def test_config_trains_two_steps_and_exports(name, assets, tmp_path, capsys):
    config = tiny(name, assets)
    result = train.train_and_evaluate(config, tmp_path)
    out = capsys.readouterr().out
    assert result["step"] == 2
    from_weights = name in ("mse", "perceptual", "perceptual_esrgan", "esrgan_x4")
    assert result["start"] == ("converted" if from_weights else "scratch")
    assert "parameters by rule (first match wins)" in out and "| bicubic |" in out
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "train"] == [1, 2]
    converted = result["start"] == "converted"
    assert [r["step"] for r in rows if r["split"] == "val"] == ([0, 2] if converted else [2])  # 0: the baseline
    assert (result["select"], result["selected_step"]) == ("psnr_y", 2)
    assert (tmp_path / "export_last" / "model.json").is_file()
    assert {"psnr_y", "ssim_y", "color_drift_cbcr", "std_ratio"} <= set(rows[-1]) and rows[-1]["split"] == "val"
    assert abs(rows[-1]["psnr_y"] - result["val"]["psnr_y"]) < 1e-9
    for f in ("curves.png", "samples.png", "eval.md", "config.json"):
        assert (tmp_path / f).stat().st_size > 0, f
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert checkpoints.saved_step(tmp_path) == 2
    module, params = load_generator(tmp_path)  # the workdir itself resolves to WORKDIR/export
    lr = np.zeros((1, 16, 16, 3), np.float32)
    x = np.zeros((1, 64, 64, 1), np.float32) if name == "srcnn" else lr  # srcnn: Y only, bicubic-upsampled
    assert module.apply({"params": params}, x).shape == (1, 64, 64, x.shape[-1])
    if name in ("mse", "perceptual", "perceptual_esrgan"):  # trunk only: the rest is exactly the converted generator
        _, converted = load_variables(assets / "gen")
        np.testing.assert_array_equal(params["conv_first"]["kernel"], converted["params"]["conv_first"]["kernel"])
        np.testing.assert_array_equal(params["conv_last"]["bias"], converted["params"]["conv_last"]["bias"])
        assert not np.array_equal(
            params["body_0"]["rdb1"]["conv1"]["kernel"], converted["params"]["body_0"]["rdb1"]["conv1"]["kernel"]
        )
    train_rows = [r for r in rows if r["split"] == "train"]
    if name == "perceptual":  # VGG + L1, no discriminator
        assert {"l_g_percep", "l_g_pix"} <= set(train_rows[0]) and "l_g_gan" not in train_rows[0]
    if name == "perceptual_esrgan":
        assert {"l_g_percep", "l_g_gan", "l_d_real", "l_d_fake", "d_separated"} <= set(train_rows[0])
        assert train_rows[0]["d_separated"] in (0.0, 1.0)  # log_every=1: one step's flag, not a fraction


@pytest.mark.parametrize("channels", [1, 3])
def test_srcnn_trains_on_luma_or_rgb_and_scores_colour(channels, assets, tmp_path):
    config = tiny("srcnn", assets)
    config.model.num_channels = channels  # 1, the config's default: the paper's Y-only network
    result = train.train_and_evaluate(config, tmp_path)
    module, params = load_generator(tmp_path)
    assert module.num_channels == channels and params["conv1"]["kernel"].shape[2] == channels
    # validation scores colour output (Y model: Y through the net, CbCr bicubic)
    assert np.isfinite(result["val"]["psnr_rgb"]) and abs(result["val"]["psnr_rgb"] - result["val"]["psnr_y"]) < 6


def test_resume_is_exact(assets, tmp_path, capsys):
    straight = train.train_and_evaluate(tiny("mse", assets, steps=4), tmp_path / "a")
    train.train_and_evaluate(tiny("mse", assets, steps=2), tmp_path / "b")
    resumed = train.train_and_evaluate(tiny("mse", assets, steps=4), tmp_path / "b")
    assert "start: resuming from" in capsys.readouterr().out
    assert (straight["start"], resumed["start"], resumed["step"]) == ("converted", "resume", 4)
    _, a = load_variables(tmp_path / "a")
    _, b = load_variables(tmp_path / "b")
    jax.tree.map(np.testing.assert_array_equal, a, b)  # bit-identical: same batches, same optimizer state


def test_step_compiles_before_the_state_exists_and_not_for_a_finished_run(assets, tmp_path, monkeypatch):
    # The compiler's memory peak must not stack on the training state's: the step is compiled from shapes first.
    calls = []
    for name in ("compile_step", "initial_state"):
        inner = getattr(trainer, name)
        monkeypatch.setattr(trainer, name, lambda *a, _f=inner, _n=name: calls.append(_n) or _f(*a))
    result = train.train_and_evaluate(tiny("perceptual_esrgan", assets), tmp_path)
    assert (calls, result["step"]) == (["compile_step", "initial_state"], 2)
    calls.clear()
    # At its last step: nothing to compile.
    again = train.train_and_evaluate(tiny("perceptual_esrgan", assets), tmp_path)
    assert (calls, again["start"], again["step"]) == (["initial_state"], "resume", 2)


def _cli(argv, capsys):
    with pytest.raises(SystemExit) as e:
        run_cli(lambda: train.main(["train", *argv]))
    return e.value.code, capsys.readouterr().err


def test_non_finite_loss_exits_3_and_keeps_last_checkpoint(assets, tmp_path, capsys):
    wd = tmp_path / "run"
    train.train_and_evaluate(tiny("mse", assets, steps=2), wd)
    capsys.readouterr()
    flags = ["--config", "mse", "--workdir", str(wd), f"--config.init.generator={assets / 'gen'}"]
    flags += [f"--config.model.{k}={v}" for k, v in TINY_G.items() if k != "kind"]
    flags += [f"--config.data.train={assets / 'hr'}", "--config.data.train_split=", "--config.data.lr_patch=16"]
    flags += ["--config.data.batch_size=2", "--config.train.steps=5", "--config.loss.pixel_weight=inf"]
    code, err = _cli(flags, capsys)
    assert code == 3, err
    # stderr also carries the progress bar; the error is its own single last line.
    assert err.count("error:") == 1
    assert err.splitlines()[-1] == (
        "error: step 3: loss l_g_pix is inf (non-finite); training stopped, last good checkpoint: step 2"
    )
    result = train.train_and_evaluate(tiny("mse", assets, steps=3), wd)  # the step-2 checkpoint still loads
    assert (result["start"], result["step"]) == ("resume", 3)


def test_missing_generator_names_file_and_command(tmp_path, capsys):
    missing = tmp_path / "weights" / "esrgan_x4"
    code, err = _cli(
        ["--config", "mse", "--workdir", str(tmp_path / "run"), f"--config.init.generator={missing}"], capsys
    )
    assert code == 2
    assert err == (
        f"error: {missing}/model.json: converted generator not found (config.init.generator); convert it first: "
        f"python -m weights_conversion RRDB_ESRGAN_x4.pth {missing} (or --config.init.generator=none to train "
        "from scratch)\n"
    )
    assert not (tmp_path / "run").exists()  # stopped before any work


def test_missing_vgg19_names_file_and_command(assets, tmp_path, capsys):
    missing = tmp_path / "vgg"
    argv = ["--config", "perceptual", "--workdir", str(tmp_path / "run"), f"--config.init.generator={assets / 'gen'}"]
    argv += [f"--config.model.{k}={v}" for k, v in TINY_G.items() if k != "kind"]
    code, err = _cli([*argv, f"--config.init.vgg19={missing}"], capsys)
    assert code == 2
    assert err == (
        f"error: {missing}/model.json: converted VGG19 not found (config.init.vgg19); convert it first: "
        f"python -m weights_conversion vgg19-dcbb9e9d.pth {missing}\n"
    )


def test_config_names_and_bad_keys(tmp_path, capsys):
    assert train.resolve_config_path("demo") == str(REPO / "configs" / "demo.py")
    code, err = _cli(["--config", "nosuch"], capsys)
    assert code == 2 and err.startswith("error: --config nosuch: no such config file; expected a path or one of [")
    assert "'demo'" in err and "'base'" not in err
    code, err = _cli(["--config", "demo", "--workdir", str(tmp_path), "--config.train.stepz=3"], capsys)
    assert code == 2 and err.count("\n") == 1 and "stepz" in err


def test_perceptual_layers_default_to_conv5_and_bad_pairs_are_one_line(tmp_path, capsys):
    loss = base_config().loss
    assert preflight.perceptual_layers(loss) == (("conv5_4", 1.0),)
    loss.perceptual_net = "vgg16"
    assert preflight.perceptual_layers(loss) == (("conv5_3", 1.0),)
    loss.perceptual_layers = (("conv3_3", 1), ("conv5_3", 0.5))
    assert preflight.perceptual_layers(loss) == (("conv3_3", 1.0), ("conv5_3", 0.5))
    loss.perceptual_layers = (("conv1_2", 0.1), ("conv3", 1), ("conv5", 1))  # a stage: its last conv
    assert preflight.perceptual_layers(loss) == (("conv1_2", 0.1), ("conv3_3", 1.0), ("conv5_3", 1.0))
    loss.perceptual_net = "vgg19"
    assert preflight.perceptual_layers(loss) == (("conv1_2", 0.1), ("conv3_4", 1.0), ("conv5_4", 1.0))
    bad = '(("conv5_4", 1.0), ("conv5_3", 1.0))'  # conv5_3 exists in VGG19 too; conv5_4 not in VGG16
    code, err = _cli(["--config", "demo", "--workdir", str(tmp_path), "--config.loss.perceptual_net=vgg16",
                      f"--config.loss.perceptual_layers={bad}"], capsys)  # fmt: skip
    assert code == 2
    assert err == (
        "error: config.loss.perceptual_layers: ('conv5_4', 1.0) is not a (layer, weight) pair with a vgg16 layer "
        "such as 'conv5_3' or 'conv5' and a number\n"
    )
    assert not (tmp_path / "checkpoints").exists()


def test_sigkill_mid_training_leaves_loadable_checkpoints(assets, tmp_path):
    wd = tmp_path / "run"
    argv = [sys.executable, "-m", "esrgan_jax.train", "--config", "mse", "--workdir", str(wd)]
    argv += [f"--config.init.generator={assets / 'gen'}", f"--config.data.train={assets / 'hr'}"]
    argv += [f"--config.model.{k}={v}" for k, v in TINY_G.items() if k != "kind"]
    argv += ["--config.data.train_split=", "--config.data.val=none", "--config.data.lr_patch=16"]
    argv += ["--config.data.batch_size=2", "--config.train.steps=100000", "--config.train.save_every=1"]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (wd / "checkpoints" / "3").exists():
            time.sleep(0.05)
        time.sleep(0.13)  # lands at an arbitrary point of the step/save cycle
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (wd / "checkpoints" / "3").exists()
    config = tiny("mse", assets)
    config.train.steps = 0  # resolved below to one step past the newest complete checkpoint
    mgr = checkpoints.checkpoint_manager(wd, 1, 2)
    last = checkpoints.latest_step(mgr)
    mgr.close()
    config.train.steps = last + 1
    result = train.train_and_evaluate(config, wd)
    assert (result["start"], result["step"]) == ("resume", last + 1)


@pytest.mark.parametrize(
    "env, called",
    [({}, None), ({"SLURM_NTASKS": "1"}, None), ({"SLURM_NTASKS": "4"}, {}), ({"OMPI_COMM_WORLD_SIZE": "2"}, {})]
    + [({"JAX_COORDINATOR_ADDRESS": "host0:1234"}, {})]
    + [
        (
            {"JAX_COORDINATOR_ADDRESS": "host0:1234", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "1"},
            {"num_processes": 2, "process_id": 1},
        )
    ],
)
def test_distributed_initialize_only_under_a_cluster_launcher(env, called, monkeypatch):
    for k in ("JAX_COORDINATOR_ADDRESS", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    calls = []
    monkeypatch.setattr(jax.distributed, "initialize", lambda **kwargs: calls.append(kwargs))
    train.maybe_initialize_distributed()
    assert calls == ([] if called is None else [called])


def test_distributed_env_must_be_complete(monkeypatch):
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "host0:1234")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
    monkeypatch.delenv("JAX_PROCESS_ID", raising=False)
    with pytest.raises(train.UserError) as e:
        train.maybe_initialize_distributed()
    assert str(e.value) == (
        "JAX_NUM_PROCESSES='2': set both JAX_NUM_PROCESSES and JAX_PROCESS_ID to whole numbers (or neither)"
    )
