"""Every bad-input path of `python -m weights_conversion`: one exact `error:` line, exit code 2, DST untouched.

Most cases run the CLI in-process through `run_cli` (as `__main__` does); a few run the real
`python -m weights_conversion` subprocess to prove the entry point, stderr and exit code end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from testkit.torch_models import OldESRGANTorch, RRDBNetTorch, randomize_
from tests.support import cli_error
from weights_conversion.__main__ import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generator_sd() -> dict:
    return randomize_(RRDBNetTorch(num_feat=8, num_block=1, num_grow_ch=4), seed=0).state_dict()


def test_missing_src_subprocess(tmp_path):
    src = tmp_path / "nope.pth"
    proc = subprocess.run(
        [sys.executable, "-m", "weights_conversion", str(src), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert proc.returncode == 2
    assert proc.stderr == f"error: {src}: no such file\n"
    assert proc.stdout == ""
    assert not (tmp_path / "out").exists()


def test_unreadable_files(tmp_path, capsys):
    (tmp_path / "junk.pth").write_bytes(b"\x00\x9f\x13 binary data")
    assert cli_error(main, [tmp_path / "junk.pth", tmp_path / "out"], capsys) == (
        f"error: {tmp_path / 'junk.pth'}: is binary data of no known format, not a PyTorch checkpoint"
    )
    torch.save({"w": torch.zeros(64)}, tmp_path / "whole.pth")
    (tmp_path / "cut.pth").write_bytes((tmp_path / "whole.pth").read_bytes()[:100])  # cut short: torch's reason
    assert cli_error(main, [tmp_path / "cut.pth", tmp_path / "out"], capsys).startswith(
        f"error: {tmp_path / 'cut.pth'}: cannot read checkpoint ("
    )
    (tmp_path / "notes.pth").write_bytes(b"this is not a checkpoint")  # was `cannot read checkpoint (101)`
    assert cli_error(main, [tmp_path / "notes.pth", tmp_path / "out"], capsys) == (
        f"error: {tmp_path / 'notes.pth'}: is a text file, not a PyTorch checkpoint"
    )
    (tmp_path / "junk.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{bad json")
    assert cli_error(main, [tmp_path / "junk.safetensors", tmp_path / "out"], capsys).startswith(
        f"error: {tmp_path / 'junk.safetensors'}: cannot read checkpoint ("
    )
    torch.save(torch.zeros(3), tmp_path / "tensor.pth")
    assert cli_error(main, [tmp_path / "tensor.pth", tmp_path / "out"], capsys) == (
        f"error: {tmp_path / 'tensor.pth'}: holds a Tensor, expected a state dict of tensors"
    )
    assert cli_error(main, [tmp_path, tmp_path / "out"], capsys) == f"error: {tmp_path}: not a file"
    assert not (tmp_path / "out").exists()
    (tmp_path / "whole.pth").unlink()


class _Payload:
    """Unpickling this would run `os.system`; weights_only=True must refuse it instead."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_code_is_never_executed(tmp_path, capsys):
    marker = tmp_path / "pwned"
    torch.save({"params": {"conv_first.weight": _Payload(marker)}}, tmp_path / "evil.pth")
    assert cli_error(main, [tmp_path / "evil.pth", tmp_path / "out"], capsys) == (
        f"error: {tmp_path / 'evil.pth'}: holds pickled Python objects (posix.system), not only tensors, so it was "
        "not loaded (weights_only=True); re-save it as a state_dict of tensors from code you trust"
    )
    assert not marker.exists()
    # A whole pickled nn.Module (torch.save(model)) is refused the same way, naming its class.
    torch.save(RRDBNetTorch(num_feat=4, num_block=1, num_grow_ch=4), tmp_path / "module.pth")
    assert cli_error(main, [tmp_path / "module.pth", tmp_path / "out"], capsys) == (
        f"error: {tmp_path / 'module.pth'}: holds pickled Python objects (testkit.torch_models.RRDBNetTorch), not only "
        "tensors, so it was not loaded (weights_only=True); re-save it as a state_dict of tensors from code you trust"
    )


def test_unknown_layout(tmp_path, capsys):
    sd = {f"layer{i}.weight": torch.zeros(2, 2) for i in range(7)}
    torch.save(sd, tmp_path / "other.pth")
    assert cli_error(main, [tmp_path / "other.pth", tmp_path / "out"], capsys) == (
        f"error: {tmp_path / 'other.pth'}: unknown checkpoint layout (none of: rrdbnet, vgg_discriminator, vgg19, "
        "vgg16, srcnn, lpips, compact, swinir); first keys: layer0.weight, layer1.weight, layer2.weight, "
        "layer3.weight, layer4.weight, ... (7 in all)"
    )


def test_wrong_kind(tmp_path, capsys, generator_sd):
    torch.save(generator_sd, tmp_path / "g.pth")
    assert cli_error(main, [tmp_path / "g.pth", tmp_path / "out", "--kind", "vgg19"], capsys) == (
        f"error: {tmp_path / 'g.pth'}: not a torchvision VGG `features.N` checkpoint; unexpected keys: "
        "conv_first.weight, conv_first.bias, body.0.rdb1.conv1.weight, body.0.rdb1.conv1.bias, "
        "body.0.rdb1.conv2.weight, ... (42 in all)"
    )
    assert cli_error(main, [tmp_path / "g.pth", tmp_path / "out", "--kind", "rrdbnet", "--scale", "2"], capsys) == (
        f"error: {tmp_path / 'g.pth'}: --scale 2 given, but the weights are x4"
    )


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda sd: sd.pop("conv_up2.weight"), "missing key 'conv_up2.weight'"),
        (lambda sd: sd.pop("body.0.rdb3.conv5.bias"), "missing key 'body.0.rdb3.conv5.bias'"),
        (
            lambda sd: sd.__setitem__("conv_hr.weight", torch.zeros(8, 4, 3, 3)),
            "shape mismatch for 'conv_hr.weight': expected (8, 8, 3, 3), got (8, 4, 3, 3)",
        ),
        (
            lambda sd: sd.__setitem__("conv_last.bias", torch.zeros(4)),
            "shape mismatch for 'conv_last.bias': expected (3,), got (4,)",
        ),
        (
            lambda sd: sd.__setitem__("conv_first.weight", torch.zeros(8, 3)),
            "shape mismatch for 'conv_first.weight': expected a conv weight [out, in, kh, kw], got (8, 3)",
        ),
        (
            lambda sd: sd.update({"extra.weight": torch.zeros(1), "ema_decay": torch.zeros(1)}),
            "unexpected keys for this model: extra.weight, ema_decay",
        ),
    ],
    ids=["missing", "missing-in-block", "shape", "shape-bias", "not-a-conv", "unexpected"],
)
def test_bad_basicsr_tensors(tmp_path, capsys, generator_sd, edit, message):
    sd = dict(generator_sd)
    edit(sd)
    torch.save({"params_ema": sd}, tmp_path / "g.pth")
    assert cli_error(main, [tmp_path / "g.pth", tmp_path / "out"], capsys) == f"error: {tmp_path / 'g.pth'}: {message}"
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["g.pth"]  # no partial directory left behind


def test_old_layout_errors_name_old_keys(tmp_path, capsys):
    sd = dict(randomize_(OldESRGANTorch(nf=8, nb=1, gc=4)).state_dict())
    del sd["model.6.weight"]
    torch.save(sd, tmp_path / "old.pth")
    assert cli_error(main, [tmp_path / "old.pth", tmp_path / "out"], capsys) == (
        f"error: {tmp_path / 'old.pth'}: missing key 'model.6.weight'"
    )
    # An old-arch x2 network has a single upsampling stage (model.7 is its last conv): not this RRDBNet.
    sd = dict(randomize_(OldESRGANTorch(nf=8, nb=1, gc=4)).state_dict())
    x2 = {k: v for k, v in sd.items() if not k.startswith(("model.6.", "model.8.", "model.10."))}
    x2["model.5.weight"], x2["model.5.bias"] = sd["model.8.weight"], sd["model.8.bias"]
    x2["model.7.weight"], x2["model.7.bias"] = sd["model.10.weight"], sd["model.10.bias"]
    torch.save(x2, tmp_path / "old_x2.pth")
    assert cli_error(main, [tmp_path / "old_x2.pth", tmp_path / "out"], capsys) == (
        f"error: {tmp_path / 'old_x2.pth'}: old-layout ESRGAN with 1 upsampling stage(s) (last module model.7); "
        "only the x4 layout with two stages (last module model.10) is supported"
    )


def test_failed_conversion_leaves_existing_dst_untouched(tmp_path, capsys, generator_sd):
    torch.save(generator_sd, tmp_path / "good.pth")
    assert main([str(tmp_path / "good.pth"), str(tmp_path / "out")]) == 0
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    bad = dict(generator_sd)
    bad["conv_first.weight"] = torch.zeros(8, 3, 5, 5)
    torch.save(bad, tmp_path / "bad.pth")
    capsys.readouterr()
    assert "shape mismatch for 'conv_first.weight'" in cli_error(main, [tmp_path / "bad.pth", tmp_path / "out"], capsys)
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pth", "good.pth", "out"]


def test_refuses_to_replace_a_non_model_directory(tmp_path, capsys, generator_sd):
    torch.save(generator_sd, tmp_path / "g.pth")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "keep.png").write_bytes(b"x")
    assert cli_error(main, [tmp_path / "g.pth", tmp_path / "photos"], capsys) == (
        f"error: {tmp_path / 'photos'}: exists and is not an esrgan-jax model directory; refusing to overwrite it"
    )
    assert (tmp_path / "photos" / "keep.png").read_bytes() == b"x"


def test_bad_kind_flag_subprocess(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "weights_conversion", "a.pth", "out", "--kind", "resnet"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2  # argparse's usage error, also code 2
    assert "argument --kind: invalid choice: 'resnet'" in proc.stderr


def test_each_converter_refuses_other_checkpoints(tmp_path, capsys, generator_sd):
    torch.save(generator_sd, tmp_path / "g.pth")
    keys = "conv_first.weight, conv_first.bias, body.0.rdb1.conv1.weight, body.0.rdb1.conv1.bias, "
    assert cli_error(main, [tmp_path / "g.pth", tmp_path / "out", "--kind", "vgg_discriminator"], capsys) == (
        f"error: {tmp_path / 'g.pth'}: not a VGG-style discriminator checkpoint (no 'conv0_0.weight'); keys: "
        f"{keys}body.0.rdb1.conv2.weight, ... (42 in all)"
    )
    assert cli_error(main, [tmp_path / "g.pth", tmp_path / "out", "--kind", "srcnn"], capsys) == (
        f"error: {tmp_path / 'g.pth'}: not an SRCNN checkpoint (no 'conv1.weight'/'conv3.weight'); keys: "
        f"{keys}body.0.rdb1.conv2.weight, ... (42 in all)"
    )
    # Tiny stand-in tensors: the conv count decides VGG16 vs VGG19 before any shape is checked.
    vgg19_convs = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    torch.save({f"features.{i}.weight": torch.zeros(1, 1, 3, 3) for i in vgg19_convs}, tmp_path / "v.pth")
    assert cli_error(main, [tmp_path / "v.pth", tmp_path / "out", "--kind", "vgg16"], capsys) == (
        f"error: {tmp_path / 'v.pth'}: vgg16 has 13 convs, this checkpoint has 16 (vgg19)"
    )
    assert cli_error(main, [tmp_path / "v.pth", tmp_path / "out"], capsys) == (
        f"error: {tmp_path / 'v.pth'}: missing key 'features.0.bias'"
    )
    other = randomize_(RRDBNetTorch(scale=2, num_feat=4, num_block=1, num_grow_ch=4)).state_dict()
    torch.save({"params": other}, tmp_path / "x2.pth")
    assert cli_error(main, [tmp_path / "x2.pth", tmp_path / "out", "--scale", "4"], capsys) == (
        f"error: {tmp_path / 'x2.pth'}: --scale 4 given, but the weights are x2"
    )
