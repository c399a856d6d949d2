"""Helpers shared by several test modules: tiny random RRDBNets, the network applied by hand, the shared data root,
the lpips-j weight files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest

from esrgan_jax.errors import run_cli
from esrgan_jax.models import RRDBNet
from testkit.flax_models import random_params

# ../shared/data beside the checkout (CI has it too); tests that need it skip with a reason when it is absent.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

HP = dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=8, num_block=1, num_grow_ch=32)
BT601 = np.array([0.299, 0.587, 0.114])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(1.0 / max(mse, 1e-30)))


def tiny(seed: int = 0, **hp) -> tuple[RRDBNet, dict]:
    module = RRDBNet(**{**HP, **hp})
    return module, random_params(module, seed, np.zeros((1, 4, 4, 3), np.float32))


def nearest_generator(tint: tuple[float, float, float] = (0.0, 0.0, 0.0), **hp) -> tuple[RRDBNet, dict]:
    """An RRDBNet that upscales by nearest neighbour, plus `tint` on each channel: RGB passes through the centre
    tap of conv_first, the upsampling convs, conv_hr and conv_last; every other weight is zero."""
    module, params = tiny(0, **hp)
    params = jax.tree.map(np.zeros_like, params)
    for name in ("conv_first", "conv_up1", "conv_up2", "conv_hr", "conv_last"):
        for c in range(3):
            params[name]["kernel"][1, 1, c, c] = 1.0
    params["conv_last"]["bias"][:] = np.asarray(tint, np.float32)
    return module, params


def by_hand(module, params, x: np.ndarray) -> np.ndarray:
    """The network on the whole float image [H, W, C], clipped: the reference every path must reproduce."""
    return np.clip(np.asarray(jax.jit(module.apply)({"params": params}, x[None].astype(np.float32))[0]), 0, 1)


def cli_error(main: Callable[[list[str]], Any], argv: list, capsys: Any) -> str:
    """Runs a command's `main` as `__main__` does (errors.run_cli); asserts exit code 2, nothing on stdout and one
    stderr line starting `error: `; returns that line."""
    with pytest.raises(SystemExit) as exc:
        run_cli(lambda: main([str(a) for a in argv]))
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: "), captured.err
    return captured.err.rstrip("\n")


def write_lpips_j_h5(folder: Path) -> tuple[Path, Path]:
    """The two files lpips-j downloads, in their layout (flaxmodels VGG16 groups, lin{i} datasets), holding the
    LPIPS oracle's weights (testkit/lpips_oracle.py's random VGG16, the `lpips` wheel's linear layers)."""
    import h5py
    import torch

    from testkit.lpips_oracle import backbone
    from weights_conversion.lpips import default_lin_path

    sd = backbone().state_dict()
    lin_sd = torch.load(default_lin_path(), map_location="cpu", weights_only=True)
    with h5py.File(folder / "vgg16_weights.h5", "w") as f:
        for index, name in [(0, "conv1_1"), (2, "conv1_2"), (5, "conv2_1"), (7, "conv2_2"), (10, "conv3_1")] + [
            (12, "conv3_2"), (14, "conv3_3"), (17, "conv4_1"), (19, "conv4_2"), (21, "conv4_3"), (24, "conv5_1")
        ] + [(26, "conv5_2"), (28, "conv5_3")]:  # fmt: skip
            f[f"{name}/weight"] = sd[f"features.{index}.weight"].numpy().transpose(2, 3, 1, 0)
            f[f"{name}/bias"] = sd[f"features.{index}.bias"].numpy()
        f["fc6/weight"] = np.zeros((8, 4), np.float32)  # the real file also holds the classifier head
    with h5py.File(folder / "lpips_lin.h5", "w") as f:
        for i in range(5):
            f[f"lin{i}"] = lin_sd[f"lin{i}.model.1.weight"].numpy().transpose(2, 3, 1, 0)
    return folder / "vgg16_weights.h5", folder / "lpips_lin.h5"


def lpips_images(seed: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Two image batches in [-1, 1] (LPIPS's range) that differ by noise of std 0.3: distances of about 0.1-1."""
    rng = np.random.default_rng(seed)
    x = np.tanh(rng.normal(size=shape)).astype(np.float32)
    return x, np.clip(x + 0.3 * rng.normal(size=shape), -1, 1).astype(np.float32)
