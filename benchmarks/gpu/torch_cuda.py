"""The GPU check's PyTorch rows: the reference RRDBNet on a CUDA device (on the CPU in the smoke run), same weights.

Set up as a PyTorch user gets the most out of a GPU: channels_last model and inputs, `cudnn.benchmark` (the first
call of a shape picks the convolution algorithms), float32 with TF32 allowed, or `torch.autocast` bfloat16 with
float32 parameters. Training is L1 + Adam over the trunk (`body.*`) or over every parameter, as the JAX rows.
Times block on `torch.cuda.synchronize()`; peak memory is `torch.cuda.max_memory_allocated` for the row.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from benchmarks.common.weights import inputs, load_state_dict
from testkit.torch_models import RRDBNetTorch

LEARNING_RATE = 1e-4


def configure(device: torch.device) -> None:
    """TF32 for float32 convolutions and matmuls (PyTorch's fast float32 on Ampere+), cuDNN autotuning."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _tensor(x: np.ndarray, device: torch.device) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(device)
    return t.contiguous(memory_format=torch.channels_last)


def _autocast(device: torch.device, dtype: str) -> contextlib.AbstractContextManager:
    if dtype == "bfloat16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def build_model(weights: str, model_cfg: dict[str, int], device: torch.device) -> RRDBNetTorch:
    model = RRDBNetTorch(**model_cfg)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in load_state_dict(weights).items()})
    return model.to(device=device, memory_format=torch.channels_last)


class Forward:
    """One network call on a fixed [B, 3, s, s] batch under `inference_mode`."""

    def __init__(self, model: RRDBNetTorch, size: int, batch: int, dtype: str, device: torch.device, seed: int = 0):
        self.model, self.dtype, self.device = model.eval(), dtype, device
        self.x = _tensor(inputs("forward", size, batch, seed)["lr"], device)
        self.out: torch.Tensor | None = None

    def __call__(self) -> None:
        with torch.inference_mode(), _autocast(self.device, self.dtype):
            self.out = self.model(self.x)

    def output(self) -> np.ndarray:
        return self.out.float().permute(0, 2, 3, 1).cpu().numpy()


class TrainStep:
    """L1 loss, forward + backward + Adam over the trunk (`trunk_only`) or every parameter."""

    def __init__(self, model: RRDBNetTorch, size: int, batch: int, dtype: str, device: torch.device, trunk_only: bool):
        self.model, self.dtype, self.device = model.train(), dtype, device
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("body.") or not trunk_only)
        self.opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=LEARNING_RATE)
        data = inputs("train", size, batch, 0)
        self.lr, self.hr = _tensor(data["lr"], device), _tensor(data["hr"], device)

    def __call__(self) -> None:
        self.opt.zero_grad(set_to_none=True)
        with _autocast(self.device, self.dtype):
            loss = (self.model(self.lr).float() - self.hr).abs().mean()
        loss.backward()
        self.opt.step()


def timed_row(make: Callable[[], Any], device: torch.device, timer: Callable[..., list[float]]) -> dict[str, Any]:
    """Builds a workload, times its first call and then `timer`'s repetitions; adds peak device memory."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    work = make()
    start = time.perf_counter()
    work()
    sync(device)
    first = time.perf_counter() - start
    times = timer(work, lambda _: sync(device))
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"first_call_s": first, "times_s": times, "peak_mb": peak, "work": work}


def describe(device: torch.device) -> dict[str, Any]:
    out: dict[str, Any] = {"torch": torch.__version__, "device": str(device), "cuda": torch.version.cuda}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        out.update(name=props.name, memory_gib=props.total_memory / 2**30, cudnn=torch.backends.cudnn.version())
        out["multiprocessors"] = props.multi_processor_count
    return out
