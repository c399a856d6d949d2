"""The GPU check's correctness part: converted models on the JAX backend against the PyTorch references on CPU.

The cores of the conversion parity tests (tests/weights_conversion/test_rrdbnet.py and test_other_kinds.py,
tests/models/test_lpips.py), with their random-weight helpers, converter and tolerances: RRDBNet x4 and x2
(pixel-unshuffle) from random BasicSR checkpoints, the full-size generator on the benchmark's shared weights, the
VGG-style discriminator (BN in eval and train mode), VGG19 conv5_4 and LPIPS. JAX runs with
`jax_default_matmul_precision="highest"`, so a GPU's TF32 convolutions do not stand in for float32; PyTorch runs on
the CPU, in float32.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
import torch

from testkit.torch_models import RRDBNetTorch, VGGStyleDiscriminatorTorch, VGGTorch, he_init_, randomize_

ATOL = 1e-5  # the conversion tests' tolerance (float32 outputs of magnitude ~0.1-1)
LPIPS_ATOL = 1e-6  # tests/models/test_lpips.py: distances are ~0.1-1 and sums of many small terms
STD = 0.1  # tests/weights_conversion/test_rrdbnet.py: image-like outputs that depend strongly on the input


def _nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).contiguous()


def _nhwc(t: torch.Tensor) -> np.ndarray:
    return t.detach().permute(0, 2, 3, 1).numpy()


def _convert(model: torch.nn.Module, work: Path, name: str, *flags: str) -> Path:
    """Saves `model`'s state dict as a .pth and converts it with the command-line converter; returns the dir."""
    from weights_conversion.__main__ import main

    torch.save(model.state_dict(), work / f"{name}.pth")
    if main([str(work / f"{name}.pth"), str(work / name), *flags]) != 0:
        raise RuntimeError(f"converting {name} failed")
    return work / name


def _record(got: Any, want: np.ndarray, atol: float, inputs_differ: float | None = None) -> dict:
    got = np.asarray(got, np.float32)
    diff = float(np.max(np.abs(got - want))) if got.shape == want.shape else float("inf")
    out = {"shape": list(want.shape), "max_abs_diff": diff, "atol": atol, "max_abs_ref": float(np.abs(want).max())}
    if inputs_differ is not None:  # the two outputs of the batch differ far above atol: the check has teeth
        out["batch_outputs_differ"] = inputs_differ
    out["ok"] = bool(diff <= atol)
    return out


def _rrdbnet(work: Path, name: str, scale: int, nf: int, nb: int, gc: int, hw: tuple[int, int]) -> dict:
    from esrgan_jax import load_generator

    model = randomize_(RRDBNetTorch(3, 3, scale, nf, nb, gc), seed=1, std=STD).eval()
    module, params = load_generator(_convert(model, work, name))
    x = np.random.default_rng(0).random((2, *hw, 3), dtype=np.float32)
    with torch.no_grad():
        want = _nhwc(model(_nchw(x)))
    got = jax.jit(module.apply)({"params": params}, x)
    return _record(got, want, ATOL, float(np.abs(want[0] - want[1]).mean()))


def _shared_weights_generator(weights: str, model_cfg: dict[str, int], size: int) -> dict:
    """The speed rows' generator (ESRGAN-style init, read by the project's converter) on one [1, s, s, 3] image."""
    from benchmarks.common.weights import load_flax_params, load_state_dict
    from esrgan_jax.models.rrdbnet import RRDBNet

    hparams, params = load_flax_params(weights)
    model = RRDBNetTorch(**model_cfg).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in load_state_dict(weights).items()})
    x = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
    with torch.no_grad():
        want = _nhwc(model(_nchw(x)))
    got = jax.jit(RRDBNet(**hparams).apply)({"params": params}, x)
    return _record(got, want, ATOL)


def _discriminator(work: Path, nf: int) -> dict:
    from esrgan_jax import load_discriminator

    model = he_init_(VGGStyleDiscriminatorTorch(3, num_feat=nf, input_size=128), seed=5)
    module, variables = load_discriminator(_convert(model, work, "disc"))
    rng = np.random.default_rng(1)  # blocky images plus noise, as the test: i.i.d. noise averages out
    blocks = rng.random((2, 8, 8, 3), dtype=np.float32).repeat(16, 1).repeat(16, 2)
    x = 0.8 * blocks + 0.2 * rng.random(blocks.shape, dtype=np.float32)
    result = {}
    for mode, train in (("eval", False), ("train", True)):
        model.train(train)
        with torch.no_grad():
            want = model(_nchw(x)).numpy()
        apply = jax.jit(lambda v, x, train=train: module.apply(v, x, train=train, mutable=["batch_stats"])[0])
        result[mode] = _record(apply(variables, x), want, ATOL, float(np.abs(want[0] - want[1]).max()))
    return {**result["eval"], "train_mode": result["train"], "ok": result["eval"]["ok"] and result["train"]["ok"]}


def _vgg19(work: Path) -> dict:
    from esrgan_jax import load_vgg

    model = he_init_(VGGTorch("vgg19"), seed=6).eval()
    module, params = load_vgg(_convert(model, work, "vgg19"))  # conv5_4, before its ReLU (features[34])
    x = np.random.default_rng(2).random((2, 32, 32, 3), dtype=np.float32)
    with torch.no_grad():
        want = _nhwc(model.forward_to(_nchw(x), 34))
    return _record(jax.jit(module.apply)({"params": params}, x)["conv5_4"], want, ATOL)


def _lpips(work: Path) -> dict:
    from esrgan_jax.models.lpips import LPIPS
    from testkit.lpips_oracle import backbone, lpips_on_random_vgg16
    from weights_conversion.lpips import convert_files, default_lin_path

    if default_lin_path() is None:
        return {"skipped": "the lpips package is not installed (stage its wheel)", "ok": None}
    torch.save(backbone().state_dict(), work / "vgg16.pth")
    _, variables, _, _ = convert_files(work / "vgg16.pth")  # linear layers: the lpips wheel's v0.1 vgg.pth
    rng = np.random.default_rng(0)  # images in [-1, 1], as tests/models/test_lpips.py
    x = np.tanh(rng.normal(size=(2, 48, 40, 3))).astype(np.float32)
    y = np.clip(x + 0.3 * rng.normal(size=x.shape), -1, 1).astype(np.float32)
    with lpips_on_random_vgg16() as model, torch.no_grad():
        want = model(_nchw(x), _nchw(y)).numpy().reshape(-1)
    return _record(np.asarray(jax.jit(LPIPS().apply)(variables, x, y)).reshape(-1), want, LPIPS_ATOL)


def run_parity(work: Path, weights: str, model_cfg: dict[str, int], small: bool) -> dict[str, dict]:
    """Every parity case; a case that raises is recorded with its error and the others still run.

    Args:
      work: a scratch folder for the .pth files and converted model directories.
      weights: the speed rows' shared weights (benchmarks.common.weights), compared at full size.
      model_cfg: those weights' RRDBNet hyper-parameters.
      small: the CPU smoke's sizes (an 8-feature discriminator).
    """
    nf = 8 if small else 64
    cases: dict[str, Callable[[], dict]] = {
        "rrdbnet x4 basicsr (nf 16, nb 2, gc 8)": lambda: _rrdbnet(work, "x4", 4, 16, 2, 8, (13, 17)),
        "rrdbnet x2 pixel-unshuffle (nf 8, nb 1, gc 4)": lambda: _rrdbnet(work, "x2", 2, 8, 1, 4, (14, 18)),
        "rrdbnet x4 shared weights ({num_feat}/{num_block}/{num_grow_ch}), 32x32".format(**model_cfg): lambda: (
            _shared_weights_generator(weights, model_cfg, 32)
        ),
        f"discriminator 128 (nf {nf}), BN eval (+ train)": lambda: _discriminator(work, nf),
        "vgg19 conv5_4 (before ReLU)": lambda: _vgg19(work),
        "lpips vgg16 + v0.1 linear layers": lambda: _lpips(work),
    }
    results = {}
    # On a GPU, float32 convolutions may run in TF32 at the default precision (10-bit mantissa, ~1e-3 error).
    with jax.default_matmul_precision("highest"):
        for name, case in cases.items():
            try:
                results[name] = case()
            except Exception as exc:  # recorded; the other cases still run
                results[name] = {"error": f"{type(exc).__name__}: {exc}", "ok": False}
    return results
