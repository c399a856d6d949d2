"""ncnn RRDBNet models (Real-ESRGAN's `.param` + `.bin`): proof that the graph is an RRDBNet, then conversion.

The graph is walked back from its output blob, and every layer has to sit where RRDBNet puts it:

    out  = conv_last(lrelu(conv_hr(lrelu(conv_up2(up(lrelu(conv_up1(up(feat + conv_body(body)))))))))
    feat = conv_first(input);  body = num_block RRDBs from feat, each x + 0.2 * rdb3(rdb2(rdb1(x)))
    rdb(x) = x + 0.2 * conv5(cat(x, x1, x2, x3, x4)),  xk = lrelu(convk(cat(x, x1, ..., x(k-1))))

`up` is an Interp nearest x2; `lrelu` is LeakyReLU 0.2, fused into the Convolution (activation_type 2, as
onnx2ncnn writes it) or a ReLU layer with slope 0.2; a scaled residual is an Eltwise SUM with coefficients
0.2 and 1 (onnx2ncnn) or a BinaryOp ADD of a BinaryOp MUL by the scalar 0.2; every conv is 3x3, stride 1,
padding 1, with bias. Split layers only fan a blob out; any other layer the walk does not reach is an error.
The weights then get their BasicSR names and go through `weights_conversion.rrdbnet.convert`, which infers
num_feat/num_grow_ch/num_block and checks every shape, so the Flax side is the one PyTorch checkpoints use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from weights_conversion import rrdbnet
from weights_conversion.common import ConversionError, first_keys
from weights_conversion.io import sha256
from weights_conversion.ncnn_format import ConvWeights, Layer, read_bin, read_param

SLOPE = RESIDUAL = np.float32(0.2)
_ACTIVATIONS = {0: "no activation", 1: "ReLU", 2: "LeakyReLU", 3: "Clip", 4: "Sigmoid", 5: "Mish", 6: "HardSwish"}
# Convolution parameters that may appear, with ncnn's defaults where a missing one matters.
_CONV_KEYS = {0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19}
_INTERP_DEFAULTS = {0: 0, 1: 1.0, 2: 1.0, 3: 0, 4: 0, 5: 0, 6: 0}  # type, h/w scale, h/w size, dynamic, align


class _Walk:
    """The backward walk: checks one layer at a time, remembering the layers used and the convs by BasicSR name."""

    def __init__(self, layers: list[Layer], path: Path):
        self.path, self.seen, self.convs = path, set(), {}
        self.maker = {blob: layer for layer in layers for blob in layer.outputs}

    def fail(self, message: str) -> None:
        raise ConversionError(f"{self.path}: not an RRDBNet: {message}")

    def node(self, blob: str) -> Layer:
        """The layer computing `blob`, looking through Splits (they only hand the same blob to several layers)."""
        layer = self.maker[blob]
        while layer.type == "Split" and len(layer.inputs) == 1:
            self.seen.add(id(layer))
            layer = self.maker[layer.inputs[0]]
        return layer

    def inputs(self, layer: Layer, n: int, role: str) -> list[Layer]:
        if len(layer.inputs) != n:
            self.fail(f"{layer.name} ({layer.type}) has {len(layer.inputs)} inputs where {role} needs {n}")
        self.seen.add(id(layer))
        return [self.node(blob) for blob in layer.inputs]

    def keys(self, layer: Layer, allowed: set[int], role: str) -> dict:
        if extra := sorted(set(layer.params) - allowed):
            key = extra[0]
            self.fail(f"{layer.name} ({layer.type}) has parameter {key}={layer.params[key]}, unknown for {role}")
        return layer.params

    def conv(self, node: Layer, role: str, act: bool) -> Layer:
        """Checks `node` is conv `role` (then LeakyReLU 0.2 if `act`); returns the layer it reads."""
        fused = act
        if act and node.type == "ReLU":
            slope = self.keys(node, {0}, role).get(0, 0.0)
            if np.float32(slope) != SLOPE:
                self.fail(f"{node.name} is a ReLU with slope {slope:g} where {role} needs LeakyReLU 0.2")
            node, fused = self.inputs(node, 1, role)[0], False
        if node.type != "Convolution":
            self.fail(f"{node.name} is a {node.type} where {role} should be a Convolution")
        p = self.keys(node, _CONV_KEYS, role)
        kw, sw, dw, pl = p.get(1, 0), p.get(3, 1), p.get(2, 1), p.get(4, 0)
        pt = p.get(14, pl)
        geometry = (p.get(11, kw), kw, p.get(13, sw), sw, p.get(12, dw), dw, pt, pl, p.get(16, pt), p.get(15, pl))
        if geometry != (3, 3, 1, 1, 1, 1, 1, 1, 1, 1) or p.get(18, 0) != 0:
            self.fail(f"{node.name} has kernel/stride/dilation/padding {geometry} where {role} is 3x3, stride 1, pad 1")
        out, size = p.get(0, 0), p.get(6, 0)
        if p.get(5, 0) != 1:
            self.fail(f"{node.name} has no bias where {role} has one")
        if p.get(8, 0) != 0 or p.get(19, 0) != 0:  # int8_scale_term, dynamic_weight
            self.fail(f"{node.name} is int8-quantised or reads its weights from a blob; {role} holds float weights")
        if out <= 0 or size <= 0 or size % (9 * out):
            self.fail(f"{node.name}: weight_data_size {size} is not num_output {out} x 3 x 3 x input channels")
        kind, values = p.get(9, 0), p.get(10, ())
        slope = values[0] if kind == 2 and values else 0.0
        if (kind, np.float32(slope)) != ((2, SLOPE) if fused else (0, 0.0)):
            have = f"{_ACTIVATIONS.get(kind, kind)}" + (f" {slope:g}" if kind == 2 else "")
            self.fail(f"{node.name} applies {have} where {role} needs {'LeakyReLU 0.2' if act else 'no activation'}")
        self.convs[role] = node
        return self.inputs(node, 1, role)[0]

    def interp(self, node: Layer, role: str) -> Layer:
        if node.type != "Interp":
            self.fail(f"{node.name} is a {node.type} where the nearest x2 upsampling before {role} should be")
        p = {**_INTERP_DEFAULTS, **self.keys(node, set(_INTERP_DEFAULTS), role)}
        got = [p[k] for k in range(7)]
        if got != [1, 2.0, 2.0, 0, 0, 0, 0]:
            self.fail(f"{node.name} is Interp {got} where {role} needs nearest x2, i.e. [1, 2.0, 2.0, 0, 0, 0, 0]")
        return self.inputs(node, 1, role)[0]

    def concat(self, node: Layer, role: str, n: int) -> list[Layer]:
        if node.type != "Concat":
            self.fail(f"{node.name} is a {node.type} where {role} reads a Concat")
        if self.keys(node, {0}, role).get(0, 0) != 0:
            self.fail(f"{node.name} concatenates on axis {node.params[0]} where {role} reads channels (axis 0)")
        if len(node.inputs) != n:
            self.fail(f"{node.name} concatenates {len(node.inputs)} blobs where {role} needs {n}")
        return self.inputs(node, n, role)

    def scaled_add(self, node: Layer, role: str) -> tuple[Layer, Layer]:
        """(y, x) of `node` = 0.2 * y + x, the residual of `role`."""
        if node.type == "Eltwise":
            p = self.keys(node, {0, 1}, role)
            a, b = self.inputs(node, 2, role)
            coeffs = tuple(np.float32(c) for c in p.get(1, ()))
            if p.get(0, 1) == 1 and coeffs in ((RESIDUAL, 1), (1, RESIDUAL)):
                return (a, b) if coeffs[0] == RESIDUAL else (b, a)
            self.fail(f"{node.name} is Eltwise op {p.get(0, 1)} with coefficients {p.get(1)} where {role} needs a "
                      "sum with coefficients 0.2 and 1")  # fmt: skip
        if node.type == "BinaryOp" and node.params.get(0, 0) == 0 and node.params.get(1, 0) == 0:
            a, b = self.inputs(node, 2, role)
            for y, x in ((a, b), (b, a)):
                mul, scalar, b = (y.params.get(k, 0) for k in range(3))
                if y.type == "BinaryOp" and (mul, scalar, np.float32(b)) == (2, 1, RESIDUAL):  # y * 0.2
                    return self.inputs(y, 1, role)[0], x
        self.fail(f"{node.name} is a {node.type} where {role} needs 0.2 * y + x (Eltwise SUM, coefficients 0.2, 1)")

    def rdb(self, node: Layer, prefix: str) -> Layer:
        """Checks dense block `prefix` (e.g. body.0.rdb2) ending at `node`; returns its input x."""
        y, x = self.scaled_add(node, prefix)
        feats = self.concat(self.conv(y, f"{prefix}.conv5", act=False), f"{prefix}.conv5", 5)
        names = ("x", "x1", "x2", "x3", "x4")
        for j in range(4, 0, -1):
            role = f"{prefix}.conv{j}"
            reads = self.conv(feats[j], role, act=True)
            got = [reads] if j == 1 else self.concat(reads, role, j)
            if any(g is not w for g, w in zip(got, feats[:j], strict=True)):
                have, want = ", ".join(g.name for g in got), ", ".join(w.name for w in feats[:j])
                self.fail(f"{role} reads ({have}) where it needs ({', '.join(names[:j])}) = ({want})")
        if feats[0] is not x:
            self.fail(f"{prefix}.conv5 reads {feats[0].name} first where it needs the block input {x.name}")
        return x


def prove(layers: list[Layer], path: Path) -> tuple[dict[str, Layer], str, str]:
    """{BasicSR conv name: Convolution layer} of an RRDBNet graph, its input and its output blob names."""
    walk = _Walk(layers, path)
    inputs = [layer for layer in layers if layer.type == "Input"]
    consumed = {blob for layer in layers for blob in layer.inputs}
    # A Split output that nothing reads changes nothing; any other unread blob is a second output.
    outputs = [blob for layer in layers if layer.type != "Split" for blob in layer.outputs if blob not in consumed]
    if len(inputs) != 1 or len(inputs[0].outputs) != 1 or len(outputs) != 1:
        walk.fail(f"{len(inputs)} Input layers and {len(outputs)} output blobs ({first_keys(outputs)}), not 1 and 1")
    data = inputs[0]
    walk.seen.add(id(data))
    h = walk.conv(walk.node(outputs[0]), "conv_last", act=False)
    h = walk.conv(h, "conv_hr", act=True)
    h = walk.interp(walk.conv(h, "conv_up2", act=True), "conv_up2")
    h = walk.interp(walk.conv(h, "conv_up1", act=True), "conv_up1")
    trunk = h
    if h.type == "BinaryOp" and set(h.params.items()) <= {(0, 0), (1, 0)}:  # a plain ADD of two blobs
        a, b = walk.inputs(h, 2, "the trunk (feat + conv_body)")
    elif h.type == "Eltwise" and h.params.get(0, 1) == 1 and h.params.get(1, (1, 1)) == (1, 1):
        a, b = walk.inputs(h, 2, "the trunk (feat + conv_body)")
    else:
        walk.fail(f"{h.name} is a {h.type} where conv_up1's upsampling reads feat + conv_body (an ADD)")
    firsts = [n for n in (a, b) if n.type == "Convolution" and len(n.inputs) == 1 and walk.node(n.inputs[0]) is data]
    if len(firsts) != 1:
        walk.fail(f"{trunk.name} adds {a.name} and {b.name}; one of them should be conv_first, reading the input")
    feat = firsts[0]
    h = walk.conv(b if feat is a else a, "conv_body", act=False)
    chain = []  # (RRDB output, rdb3 output, RRDB input), last block first
    while h is not feat:
        y, x = walk.scaled_add(h, "an RRDB (x + 0.2 * rdb3) between conv_first and conv_body")
        chain.append((y, x))
        h = x
    if not chain:
        walk.fail(f"conv_body ({walk.convs['conv_body'].name}) reads conv_first directly: no RRDB between them")
    for i, (y, x) in enumerate(reversed(chain)):
        for k in (3, 2, 1):
            y = walk.rdb(y, f"body.{i}.rdb{k}")
        if y is not x:
            walk.fail(f"body.{i}.rdb1 reads {y.name} where it needs the RRDB's input {x.name}")
    if walk.conv(feat, "conv_first", act=False) is not data:
        walk.fail(f"conv_first ({feat.name}) does not read the Input layer {data.name}")
    left = [f"{layer.name} ({layer.type})" for layer in layers if id(layer) not in walk.seen and layer.type != "Split"]
    if left:
        walk.fail(f"layers outside the RRDBNet: {first_keys(left)}")
    return walk.convs, data.outputs[0], outputs[0]


def convert_files(src: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any], str, dict[str, Any]]:
    """Converts an ncnn RRDBNet; `src` is its `.param` or `.bin` (the other one has the same stem).

    Returns:
      (hparams for `build_model("rrdbnet", ...)`, {"params": ...}, "ncnn", provenance for model.json's "source").
    """
    param, weights = Path(src).with_suffix(".param"), Path(src).with_suffix(".bin")
    for path in (param, weights):
        if not path.is_file():
            raise ConversionError(f"{path}: no such file (an ncnn model is a .param and a .bin of the same name)")
    layers = read_param(param)
    convs, data, output = prove(layers, param)
    in_file = [layer for layer in layers if layer.type == "Convolution"]  # the only layers with weights here
    arrays, storage = read_bin(weights, [ConvWeights(c.name, c.params[6], c.params[0]) for c in in_file], param.name)
    by_layer = {id(layer): array for layer, array in zip(in_file, arrays, strict=True)}
    sd = {}
    for name, layer in convs.items():
        w, b = by_layer[id(layer)]
        sd[f"{name}.weight"], sd[f"{name}.bias"] = w.reshape(layer.params[0], -1, 3, 3), b
    try:
        hparams, variables, _ = rrdbnet.convert(sd)
    except ConversionError as e:
        raise ConversionError(f"{param}: {e}") from None
    source = {"file": param.name, "sha256": sha256(param), "bin_file": weights.name, "bin_sha256": sha256(weights)}
    source.update(layout="ncnn", storage=storage, input_blob=data, output_blob=output)
    return hparams, variables, "ncnn", source
