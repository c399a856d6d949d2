"""Export to PyTorch: convert(export(m)) == m bit for bit, the PyTorch reference modules load the result with
strict=True and reproduce the JAX outputs, and every refusal is one exact `error:` line with OUT untouched.

Models are random Flax variables (testkit/flax_models.py), so the PyTorch side sees only what the exporter wrote.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest
import torch

from esrgan_jax.models.store import load_variables
from testkit.flax_models import SPECS, jax_output, make_model_dir, sample_input
from testkit.torch_models import OldESRGANTorch, RRDBNetTorch, SRCNNTorch, VGGStyleDiscriminatorTorch, to_xinntao
from tests.support import cli_error
from weights_conversion import convert_file
from weights_conversion.export import export_model, main

ATOL = 1e-5


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("models")
    return {name: make_model_dir(root, name, seed=i) for i, name in enumerate(SPECS)}


@pytest.fixture(scope="module")
def jax_outputs(model_dirs):
    """name -> the model's JAX output on `sample_input(name)`, computed once per model."""
    cache = {}

    def get(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = jax_output(model_dirs[name], sample_input(name))
        return cache[name]

    return get


def assert_same_variables(a, b, half: bool = False) -> None:
    """Same tree, float32 leaves equal bit for bit (to the float16-rounded values of `a` when `half`)."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y, x.astype(np.float16).astype(np.float32) if half else x)


# (model, layout, the wrapper it gets by default in a .pth)
LAYOUTS = [
    ("x4", "basicsr", "params_ema"),
    ("x4", "esrgan-new", None),
    ("x4", "esrgan-old", None),
    ("x2", "basicsr", "params_ema"),
    ("x1", "basicsr", "params_ema"),
    ("disc", "basicsr", "params"),
    ("srcnn", "srcnn", None),
]


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
@pytest.mark.parametrize("name, layout, wrapper", LAYOUTS, ids=[f"{c[0]}-{c[1]}" for c in LAYOUTS])
def test_round_trip_is_exact(tmp_path, model_dirs, name, layout, wrapper, suffix):
    out = tmp_path / f"model{suffix}"
    done = export_model(model_dirs[name], out, layout=layout)
    wrapper = wrapper if suffix == ".pth" else None
    assert (done.layout, done.key, done.dtype) == (layout, wrapper, "float32")
    kind, hparams, _ = SPECS[name]
    back = convert_file(out, tmp_path / "back", scale=hparams["scale"] if kind == "srcnn" else None)
    assert (back.kind, back.hparams, back.layout, back.wrapper) == (kind, hparams, layout, wrapper)
    assert_same_variables(load_variables(model_dirs[name])[1], load_variables(tmp_path / "back")[1])


@pytest.mark.parametrize("name, layout", [("x4", "esrgan-old"), ("disc", "basicsr")])
def test_half_round_trip(tmp_path, model_dirs, name, layout):
    done = export_model(model_dirs[name], tmp_path / "half.pth", layout=layout, half=True)
    assert done.dtype == "float16"
    saved = torch.load(tmp_path / "half.pth", weights_only=True)
    saved = saved[done.key] if done.key else saved
    assert {v.dtype for k, v in saved.items() if not k.endswith("num_batches_tracked")} == {torch.float16}
    convert_file(tmp_path / "half.pth", tmp_path / "back")
    assert_same_variables(load_variables(model_dirs[name])[1], load_variables(tmp_path / "back")[1], half=True)


def reference_module(name: str, layout: str, sd: dict) -> torch.nn.Module:
    """The tests' PyTorch module for `name`, loaded with strict=True from the exported state dict `sd`."""
    kind, hp, _ = SPECS[name]
    if kind == "vgg_discriminator":
        model = VGGStyleDiscriminatorTorch(hp["num_in_ch"], hp["num_feat"], hp["input_size"])
    elif kind == "srcnn":
        model = SRCNNTorch(hp["num_channels"])
    elif layout == "esrgan-old":
        model = OldESRGANTorch(3, 3, hp["num_feat"], hp["num_block"], hp["num_grow_ch"])
    else:
        model = RRDBNetTorch(3, 3, hp["scale"], hp["num_feat"], hp["num_block"], hp["num_grow_ch"])
        if layout == "esrgan-new":  # xinntao key -> the reference module's BasicSR key
            names = to_xinntao({k: k for k in model.state_dict()})
            sd = {names[k]: v for k, v in sd.items()}
    model.load_state_dict(sd, strict=True)
    return model.eval()


@pytest.mark.parametrize("name, layout, wrapper", LAYOUTS, ids=[f"{c[0]}-{c[1]}" for c in LAYOUTS])
def test_pth_runs_in_the_pytorch_reference(tmp_path, model_dirs, jax_outputs, name, layout, wrapper):
    export_model(model_dirs[name], tmp_path / "model.pth", layout=layout)
    saved = torch.load(tmp_path / "model.pth", weights_only=True)
    if wrapper:
        assert list(saved) == [wrapper]
        saved = saved[wrapper]
    model = reference_module(name, layout, saved)
    x = sample_input(name)
    with torch.no_grad():
        want = model(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())
    want = want.numpy() if want.ndim == 2 else want.permute(0, 2, 3, 1).numpy()
    got = jax_outputs(name)
    assert got.shape == want.shape
    assert np.abs(want[0] - want[1]).mean() > 0.02  # outputs depend on the input far above the tolerance
    # Relative to the output's scale: random-weight outputs reach ~4.4, where two float32 implementations differ
    # by up to 1.5e-5 on an AVX2-only CPU (AMD EPYC Zen 3); a mis-mapped weight moves outputs by ~0.1 or more.
    np.testing.assert_allclose(got, want, rtol=0, atol=ATOL * max(1.0, float(np.abs(want).max())))


def test_workdir_and_overwrite(tmp_path, model_dirs, capsys):
    shutil.copytree(model_dirs["x2"], tmp_path / "run" / "export")  # a training workdir holds its model in export/
    out = tmp_path / "sub" / "x2.safetensors"
    assert main([str(tmp_path / "run"), str(out)]) == 0
    digest = out.read_bytes()
    assert main([str(model_dirs["x4"]), str(out), "--overwrite", "--half"]) == 0
    assert out.read_bytes() != digest
    assert [p.name for p in out.parent.iterdir()] == ["x2.safetensors"]  # no temporary file left behind
    lines = capsys.readouterr().out.splitlines()
    n2, n4 = (sum(p.numel() for p in RRDBNetTorch(3, 3, s, 16, 2, 32).parameters()) for s in (2, 4))
    assert lines[0] == f"exported {tmp_path / 'run'} -> {out}"
    assert lines[1] == f"  rrdbnet, layout basicsr, no wrapper key, 72 tensors, {n2:,} parameters, float32"
    assert lines[4] == f"  rrdbnet, layout basicsr, no wrapper key, 72 tensors, {n4:,} parameters, float16"


def test_refusals(tmp_path, model_dirs, capsys):
    x2, out = model_dirs["x2"], tmp_path / "out.pth"
    assert cli_error(main, [x2, out, "--layout", "esrgan-new"], capsys) == (
        f"error: {x2}: the esrgan-new layout holds only x4 RRDBNet models; this one is x2 (pixel-unshuffle), "
        "export it with --layout basicsr"
    )
    assert cli_error(main, [model_dirs["disc"], out, "--layout", "esrgan-old"], capsys) == (
        f"error: {model_dirs['disc']}: a vgg_discriminator model is exported in the basicsr layout, not esrgan-old"
    )
    assert cli_error(main, [x2, tmp_path / "out.onnx"], capsys) == (
        f"error: {tmp_path / 'out.onnx'}: unknown suffix '.onnx'; expected .pth or .safetensors"
    )
    assert cli_error(main, [x2, tmp_path / "o.safetensors", "--key", "params_ema"], capsys) == (
        f"error: {tmp_path / 'o.safetensors'}: a .safetensors file is one flat dict of tensors; "
        "--key params_ema needs a .pth"
    )
    assert cli_error(main, [tmp_path / "nope", out], capsys) == (
        f"error: {tmp_path / 'nope'}: no such model directory (convert one with `python -m weights_conversion`)"
    )
    vgg = tmp_path / "vgg19"  # only model.json is read before the kind is refused
    vgg.mkdir()
    meta = {"format": "esrgan-jax/1", "kind": "vgg19", "hparams": {}, "collections": ["params"], "source": {}}
    (vgg / "model.json").write_text(json.dumps(meta))
    assert cli_error(main, [vgg, out], capsys) == (
        f"error: {vgg}: a vgg19 model cannot be exported (only rrdbnet, vgg_discriminator, srcnn, compact, swinir)"
    )
    assert not out.exists()
    out.write_bytes(b"keep me")
    assert cli_error(main, [x2, out], capsys) == f"error: {out}: already exists; pass --overwrite to replace it"
    assert out.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pth", "vgg19"]  # nothing else was written


def test_entry_point_subprocess(tmp_path, model_dirs):
    proc = subprocess.run(
        [sys.executable, "-m", "weights_conversion.export", str(model_dirs["x4"]), "g.pth", "--layout", "esrgan-new"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    digest = hashlib.sha256((tmp_path / "g.pth").read_bytes()).hexdigest()
    assert proc.stdout.splitlines() == [
        f"exported {model_dirs['x4']} -> g.pth",
        "  rrdbnet, layout esrgan-new, no wrapper key, 72 tensors, 577,811 parameters, float32",
        f"  sha256 {digest}",
    ]
