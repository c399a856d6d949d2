"""ncnn in the tests: writes a BasicSR-keyed RRDBNet state dict, or a Real-ESRGAN compact one, as an ncnn `.param`
+ `.bin`, the way onnx2ncnn lays out Real-ESRGAN's models, and runs ncnn itself in float32 (`run_ncnn`, the oracle).

Used by the tests to make small models in ncnn format, written from ncnn's file format (not from the
converter): onnx2ncnn's layer names (`Conv_7`, `Concat_9`, `Add_16`), Split layers fanning out every blob read
more than once, LeakyReLU fused into the Convolution, the residuals as Eltwise SUM with coefficients (0.2, 1).
`relu_layer=True` writes each LeakyReLU as a ReLU layer, `binary_ops=True` each residual as BinaryOp MUL by
0.2 then ADD, both also valid ncnn. Weights are float16 (tag 0x01306B47) or float32 (tag 0), biases float32.
A compact is written as realesr-animevideov3's graph is: Conv and PReLU pairs, the last Conv, PixelShuffle,
and a nearest Interp of the input added by a BinaryOp; PReLU slopes are float32 with no tag.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

FP16_TAG = 0x01306B47
LRELU = "9=2 -23310=1,2.000000e-01"


class _Graph:
    def __init__(self):
        self.layers: list[list] = []  # [type, name, inputs, outputs, params]
        self.convs: list[str] = []  # state-dict prefix of each Convolution, in file order

    def add(self, kind: str, inputs: list[str], params: str = "", out: str | None = None) -> str:
        name = f"{kind if kind != 'Convolution' else 'Conv'}_{len(self.layers)}"
        out = out or str(len(self.layers))
        self.layers.append([kind, name, list(inputs), [out], params])
        return out

    def text(self) -> str:
        """The .param text, with a Split after every blob that more than one layer reads (as onnx2ncnn does)."""
        readers: dict[str, list] = {}
        for layer in self.layers:
            for i, blob in enumerate(layer[2]):
                readers.setdefault(blob, []).append((layer, i))
        lines, n_split = [], 0
        for layer in self.layers:
            lines.append(layer)
            for blob in layer[3]:
                users = readers.get(blob, [])
                if len(users) > 1:
                    outs = [f"{blob}_splitncnn_{k}" for k in range(len(users))]
                    # onnx2ncnn hands the last copy to the first reader
                    for (user, i), new in zip(users, reversed(outs), strict=True):
                        user[2][i] = new
                    lines.append(["Split", f"splitncnn_{n_split}", [blob], outs, ""])
                    n_split += 1
        blobs = {b for line in lines for b in line[3]}
        body = [f"{t:<24} {n:<24} {len(i)} {len(o)} {' '.join(i + o)} {p}".rstrip() for t, n, i, o, p in lines]
        return "\n".join(["7767517", f"{len(lines)} {len(blobs)}", *body]) + "\n"


def _rrdbnet_graph(sd: dict[str, np.ndarray], relu_layer: bool, binary_ops: bool) -> _Graph:
    g = _Graph()
    num_block = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("body."))

    def conv(name: str, x: str, act: bool, out: str | None = None) -> str:
        g.convs.append(name)
        weight = sd[f"{name}.weight"]
        params = f"0={weight.shape[0]} 1=3 4=1 5=1 6={weight.size}"
        if act and relu_layer:
            return g.add("ReLU", [g.add("Convolution", [x], params)], "0=2.000000e-01")
        return g.add("Convolution", [x], f"{params} {LRELU}" if act else params, out)

    def residual(y: str, x: str) -> str:  # 0.2 * y + x
        if binary_ops:
            return g.add("BinaryOp", [g.add("BinaryOp", [y], "0=2 1=1 2=2.000000e-01"), x], "0=0")
        return g.add("Eltwise", [y, x], "0=1 -23301=2,2.000000e-01,1.000000e+00")

    feat = h = conv("conv_first", g.add("Input", [], out="data"), act=False)
    for i in range(num_block):
        rrdb_in = h
        for k in (1, 2, 3):
            feats = [h]
            for j in range(1, 5):
                feats.append(conv(f"body.{i}.rdb{k}.conv{j}", feats[0] if j == 1 else g.add("Concat", feats), True))
            h = residual(conv(f"body.{i}.rdb{k}.conv5", g.add("Concat", feats), act=False), h)
        h = residual(h, rrdb_in)
    h = g.add("BinaryOp", [feat, conv("conv_body", h, act=False)])
    for up in ("conv_up1", "conv_up2"):
        h = conv(up, g.add("Interp", [h], "0=1 1=2.000000e+00 2=2.000000e+00"), act=True)
    conv("conv_last", conv("conv_hr", h, act=True), act=False, out="output")
    return g


def _compact_graph(sd: dict[str, np.ndarray]) -> _Graph:
    g = _Graph()
    last = max(int(k.split(".")[1]) for k in sd)
    scale = int(round((sd[f"body.{last}.bias"].size / sd["body.0.weight"].shape[1]) ** 0.5))
    data = g.add("Input", [], out="data")
    h = data
    for i in range(last + 1):  # convs at even indices, PReLUs at odd ones; both hold weights
        weight = sd[f"body.{i}.weight"]
        g.convs.append(f"body.{i}")
        if i % 2 == 0:
            h = g.add("Convolution", [h], f"0={weight.shape[0]} 1=3 4=1 5=1 6={weight.size}")
        else:
            h = g.add("PReLU", [h], f"0={weight.size}")
    h = g.add("PixelShuffle", [h], f"0={scale}")
    up = g.add("Interp", [data], f"0=1 1={scale:.6e} 2={scale:.6e}")
    g.add("BinaryOp", [h, up], "0=0", out="output")
    return g


def export_ncnn(
    sd: dict, stem: Path, fp16: bool = True, relu_layer: bool = False, binary_ops: bool = False
) -> tuple[Path, Path]:
    """Writes `stem`.param and `stem`.bin for the x4 RRDBNet or the compact state dict `sd` (numpy arrays or
    torch tensors)."""
    sd = {k: np.asarray(v, np.float32) for k, v in sd.items()}
    g = _compact_graph(sd) if "body.0.weight" in sd else _rrdbnet_graph(sd, relu_layer, binary_ops)
    chunks = []
    for name in g.convs:
        if sd[f"{name}.weight"].ndim == 1:  # PReLU slopes: float32, no storage tag
            chunks.append(sd[f"{name}.weight"].astype("<f4").tobytes())
            continue
        w = sd[f"{name}.weight"].reshape(-1)
        if fp16:
            raw = w.astype("<f2").tobytes()
            chunks += [FP16_TAG.to_bytes(4, "little"), raw + b"\0" * (-len(raw) % 4)]
        else:
            chunks += [b"\0\0\0\0", w.astype("<f4").tobytes()]
        chunks.append(sd[f"{name}.bias"].astype("<f4").tobytes())
    stem.with_suffix(".param").write_text(g.text())
    stem.with_suffix(".bin").write_bytes(b"".join(chunks))
    return stem.with_suffix(".param"), stem.with_suffix(".bin")


FLOAT32_ONLY = [  # ncnn options that would store or compute in anything but float32 on the CPU
    "use_vulkan_compute", "use_fp16_storage", "use_fp16_arithmetic", "use_fp16_packed", "use_bf16_storage",
    "use_bf16_packed", "use_int8_inference", "use_int8_storage", "use_int8_arithmetic", "use_int8_packed",
    "use_winograd_convolution", "use_winograd23_convolution", "use_winograd43_convolution",
    "use_winograd63_convolution", "use_sgemm_convolution",
]  # fmt: skip


def run_ncnn(param: Path, weights: Path, x: np.ndarray) -> np.ndarray:
    """ncnn's output for one [H, W, C] image, as [sH, sW, C]."""
    ncnn = pytest.importorskip("ncnn", reason="the ncnn package (test extra) is not installed")
    net = ncnn.Net()
    for option in FLOAT32_ONLY:
        if hasattr(net.opt, option):
            setattr(net.opt, option, False)
    net.opt.num_threads = 1
    assert net.load_param(str(param)) == 0 and net.load_model(str(weights)) == 0
    chw = np.ascontiguousarray(x.transpose(2, 0, 1), np.float32)  # kept alive: ncnn.Mat borrows its memory
    extractor = net.create_extractor()
    extractor.input("data", ncnn.Mat(chw))
    ret, out = extractor.extract("output")
    assert ret == 0
    return np.array(out).transpose(1, 2, 0)


def edit_param_line(param: Path, pattern: str, old: str, new: str) -> str:
    """Replaces `old` by `new` in the first line of a `.param` matching `pattern`; returns that layer's name."""
    lines = param.read_text().splitlines()
    i = next(i for i, line in enumerate(lines) if re.search(pattern, line))
    assert old in lines[i]
    lines[i] = lines[i].replace(old, new, 1)
    param.write_text("\n".join(lines) + "\n")
    return lines[i].split()[1]
