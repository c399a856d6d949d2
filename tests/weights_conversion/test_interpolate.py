"""Network interpolation: OUT == (1 - alpha) * A + alpha * B leaf by leaf, and refusal of mismatched models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
import torch

from esrgan_jax.models.store import load_variables, save_model
from testkit.torch_models import RRDBNetTorch, SRCNNTorch, VGGStyleDiscriminatorTorch, randomize_
from tests.support import cli_error
from weights_conversion import convert_file
from weights_conversion.interpolate import interpolate, main

REPO = Path(__file__).resolve().parents[2]


def converted(tmp_path: Path, name: str, model: torch.nn.Module) -> Path:
    torch.save(model.state_dict(), tmp_path / f"{name}.pth")
    return convert_file(tmp_path / f"{name}.pth", tmp_path / name).dst


@pytest.fixture(scope="module")
def psnr_and_gan(tmp_path_factory) -> tuple[Path, Path]:
    """Two generators of one architecture with different weights, like RRDB_PSNR_x4 and RRDB_ESRGAN_x4."""
    tmp = tmp_path_factory.mktemp("interp")
    a = converted(tmp, "psnr", randomize_(RRDBNetTorch(num_feat=8, num_block=1, num_grow_ch=4), seed=10))
    b = converted(tmp, "gan", randomize_(RRDBNetTorch(num_feat=8, num_block=1, num_grow_ch=4), seed=11))
    return a, b


def flat(variables: dict) -> dict[str, np.ndarray]:
    return {jax.tree_util.keystr(p): np.asarray(v) for p, v in jax.tree_util.tree_flatten_with_path(variables)[0]}


@pytest.mark.parametrize("alpha", [0.0, 1.0, 0.8])
def test_blend_is_linear_in_every_leaf(tmp_path, psnr_and_gan, alpha):
    a, b = psnr_and_gan
    interpolate(a, b, alpha, tmp_path / "out")
    meta_a, va = load_variables(a)
    _, vb = load_variables(b)
    meta, vo = load_variables(tmp_path / "out")
    assert meta["kind"] == "rrdbnet" and meta["hparams"] == meta_a["hparams"]
    fa, fb, fo = flat(va), flat(vb), flat(vo)
    assert sorted(fo) == sorted(fa) and len(fo) == 42
    for key in fa:
        assert fo[key].dtype == np.float32
        want = (1 - alpha) * fa[key].astype(np.float64) + alpha * fb[key].astype(np.float64)
        np.testing.assert_allclose(fo[key], want, rtol=1e-7, atol=1e-9)
    if alpha in (0.0, 1.0):  # the end points are the inputs themselves, bit for bit
        assert all(np.array_equal(fo[k], (fa if alpha == 0 else fb)[k]) for k in fa)


def test_cli_blends_batch_stats_too(tmp_path):
    d = [randomize_(VGGStyleDiscriminatorTorch(num_feat=4), seed=s) for s in (20, 21)]
    a, b = converted(tmp_path, "d_a", d[0]), converted(tmp_path, "d_b", d[1])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "weights_conversion.interpolate",
            str(a),
            str(b),
            "--alpha",
            "0.25",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"wrote {tmp_path / 'o'} = 0.75 * {a} + 0.25 * {b}\n"
    _, vo = load_variables(tmp_path / "o")
    want = 0.75 * d[0].bn2_1.running_var.numpy() + 0.25 * d[1].bn2_1.running_var.numpy()
    np.testing.assert_allclose(vo["batch_stats"]["bn2_1"]["var"], want, rtol=1e-6)
    meta = json.loads((tmp_path / "o" / "model.json").read_text())
    assert meta["source"]["interpolated"] == {"a": str(a), "b": str(b), "alpha": 0.25}
    assert meta["source"]["a_source"]["file"] == "d_a.pth"


def test_refuses_mismatched_models(tmp_path, capsys, psnr_and_gan):
    a, _ = psnr_and_gan
    srcnn = converted(tmp_path, "srcnn", randomize_(SRCNNTorch()))
    deeper = converted(tmp_path, "deeper", randomize_(RRDBNetTorch(num_feat=8, num_block=2, num_grow_ch=4)))
    out = tmp_path / "out"
    assert cli_error(main, [a, srcnn, "--alpha", "0.5", out], capsys) == (
        f"error: {a} is a rrdbnet model but {srcnn} is a srcnn model"
    )
    assert cli_error(main, [a, deeper, "--alpha", "0.5", out], capsys) == (
        f"error: {a} and {deeper} differ in hyper-parameter 'num_block': 1 vs 2"
    )
    assert cli_error(main, [a, a, "--alpha", "1.5", out], capsys) == "error: --alpha must be in [0, 1], got 1.5"
    assert cli_error(main, [a, tmp_path / "missing", "--alpha", "0.5", out], capsys) == (
        f"error: {tmp_path / 'missing'}: no such model directory (convert one with `python -m weights_conversion`)"
    )
    # Same recorded hyper-parameters but a tensor of another shape (a tampered directory) is refused too.
    meta, va = load_variables(a)
    va["params"]["conv_last"]["bias"] = np.zeros(5, np.float32)
    save_model(tmp_path / "tampered", meta["kind"], meta["hparams"], va)
    assert cli_error(main, [a, tmp_path / "tampered", "--alpha", "0.5", out], capsys) == (
        f"error: {a} and {tmp_path / 'tampered'} differ in the shape of ['params']['conv_last']['bias']: (3,) vs (5,)"
    )
    assert not out.exists()
