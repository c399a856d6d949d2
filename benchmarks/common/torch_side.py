"""The PyTorch side of every workload: the reference RRDBNet from the tests (or, for `--builtin` and `--swinir`,
spandrel's SRVGGNetCompact and the official SwinIR), on the same weights.

Set up the way a PyTorch user gets the most out of a CPU: channels_last tensors and model (oneDNN's preferred
layout for convolutions), `torch.set_num_threads(cores)`, `inference_mode` for inference. Training uses
torch.optim.Adam over the trunk (`body.*`; SwinIR's `layers.*`) only, with the other parameters frozen
(requires_grad False), which mirrors the JAX side's trunk-only masking. The tiled upscale goes through esrgan-jax's
own tiling code (`esrgan_jax.inference.tiling.run_tiled`), so both frameworks see exactly the same windows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from benchmarks.common.cases import TRUNK_PREFIX, Case
from benchmarks.common.host_tiling import TiledUpscale, threads, timed
from benchmarks.common.weights import inputs, load_state_dict
from testkit.torch_models import RRDBNetTorch  # torch is a test/benchmark dependency only

LEARNING_RATE = 1e-4


def _nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).contiguous(memory_format=torch.channels_last)


def _nhwc(x: torch.Tensor) -> np.ndarray:
    return x.detach().permute(0, 2, 3, 1).contiguous().numpy()


class Forward:
    """One network call on a fixed [B, 3, s, s] channels_last batch."""

    def __init__(self, model: RRDBNetTorch, case: Case, seed: int):
        self.model = model.eval()
        self.x = _nchw(inputs("forward", case.size, case.batch, seed)["lr"])
        self.out = None

    def rep(self) -> float:
        with torch.inference_mode():
            seconds, self.out = timed(lambda: self.model(self.x))
        return seconds

    first_call = rep

    def output(self) -> np.ndarray:
        return _nhwc(self.out)


class TrainStep:
    """L1 loss, forward + backward + Adam over the trunk (`{prefix}.*`) only."""

    def __init__(self, model: RRDBNetTorch, case: Case, seed: int, prefix: str = "body"):
        self.model = model.train()
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith(prefix + "."))
        self.opt = torch.optim.Adam(getattr(model, prefix).parameters(), lr=LEARNING_RATE)
        data = inputs("train", case.size, case.batch, seed)
        self.lr, self.hr = _nchw(data["lr"]), _nchw(data["hr"])
        self.losses: list[float] = []

    def _step(self) -> float:
        self.opt.zero_grad(set_to_none=True)
        loss = (self.model(self.lr) - self.hr).abs().mean()
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def rep(self) -> float:
        seconds, loss = timed(self._step)
        self.losses.append(loss)
        return seconds

    first_call = rep

    def output(self) -> np.ndarray:
        return np.asarray(self.losses, np.float64)


def upscale(model: torch.nn.Module, case: Case, seed: int, multiple: int = 1) -> TiledUpscale:
    """A whole image through esrgan-jax's tiling code with the PyTorch network inside."""
    model = model.eval()

    def net(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return _nhwc(model(_nchw(batch)))

    return TiledUpscale(net, case, seed, multiple)


def compact_torch(num_in_ch: int, num_out_ch: int, num_feat: int, num_conv: int, scale: int, **_) -> torch.nn.Module:
    """spandrel's SRVGGNetCompact (`--builtin`), imported on the test kit's stand-in torchvision."""
    from testkit.torchvision_standin import torchvision_standin

    with torchvision_standin():
        from spandrel.architectures.Compact import Compact

    return Compact(num_in_ch=num_in_ch, num_out_ch=num_out_ch, num_feat=num_feat, num_conv=num_conv, upscale=scale)


def swinir_torch(scale: int, **hparams: Any) -> torch.nn.Module:
    """The official SwinIR (spandrel's copy, `--swinir`), built from esrgan-jax's hyper-parameters."""
    from testkit.torchvision_standin import torchvision_standin

    with torchvision_standin():
        from spandrel.architectures.SwinIR import SwinIR

    hparams = {k: v for k, v in hparams.items() if k not in ("kind", "num_feat")}  # num_feat: fixed at 64 there
    return SwinIR(upscale=scale, **hparams)


def build(case: Case, weights: str, seed: int, model_cfg: dict[str, Any]) -> Any:
    """The workload for `case` on the shared weights, with threads = the cores this process may use."""
    torch.set_num_threads(threads())
    kind = model_cfg.get("kind", "rrdbnet")
    makers = {"compact": compact_torch, "swinir": swinir_torch, "rrdbnet": RRDBNetTorch}
    model = makers[kind](**{k: v for k, v in model_cfg.items() if k not in ("kind", "ncnn")})
    model.load_state_dict({k: torch.from_numpy(v) for k, v in load_state_dict(weights).items()})
    model = model.to(memory_format=torch.channels_last)
    if case.kind == "train":
        return TrainStep(model, case, seed, TRUNK_PREFIX[kind])
    if case.kind in ("upscale", "api"):
        return upscale(model, case, seed, model_cfg.get("window_size", 1))
    return Forward(model, case, seed)


def describe() -> dict[str, str]:
    return {"torch": torch.__version__, "torch_threads": str(torch.get_num_threads()), "device": "cpu"}
