"""ncnn RRDBNet models (Real-ESRGAN's `.param` + `.bin`): proof that the graph is an RRDBNet, then conversion.

The graph is walked back from its output blob, and every layer has to sit where RRDBNet puts it:

    out  = conv_last(lrelu(conv_hr(lrelu(conv_up2(up(lrelu(conv_up1(up(feat + conv_body(body)))))))))
    feat = conv_first(input);  body = num_block RRDBs from feat, each x + 0.2 * rdb3(rdb2(rdb1(x)))
    rdb(x) = x + 0.2 * conv5(cat(x, x1, x2, x3, x4)),  xk = lrelu(convk(cat(x, x1, ..., x(k-1))))

`up` is an Interp nearest x2; `lrelu` is LeakyReLU 0.2, fused into the Convolution (activation_type 2, as
onnx2ncnn writes it) or a ReLU layer with slope 0.2; a scaled residual is an Eltwise SUM with coefficients
0.2 and 1 (onnx2ncnn) or a BinaryOp ADD of a BinaryOp MUL by the scalar 0.2; every conv is 3x3, stride 1,
padding 1, with bias. Split layers only fan a blob out; any other layer the walk does not reach is an error.
The weights then get their BasicSR names and go through `torch_keys.convert`, which infers
num_feat/num_grow_ch/num_block and checks every shape, so the Flax side is the one PyTorch checkpoints use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from esrgan_jax.architectures.ncnn_format import ConvWeights, Layer, read_bin, read_param
from esrgan_jax.architectures.ncnn_graph import GraphWalk
from esrgan_jax.architectures.rrdbnet import torch_keys
from esrgan_jax.architectures.tensors import ConversionError

RESIDUAL = np.float32(0.2)


class _Walk(GraphWalk):
    """The backward walk, with RRDBNet's own pieces: dense blocks and their scaled residuals."""

    def __init__(self, layers: list[Layer], path: Path):
        super().__init__(layers, path, "an RRDBNet", slope=0.2)

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
    data, output = walk.ends()
    h = walk.conv(walk.node(output), "conv_last", act=False)
    h = walk.conv(h, "conv_hr", act=True)
    h = walk.interp(walk.conv(h, "conv_up2", act=True), "conv_up2", 2)
    h = walk.interp(walk.conv(h, "conv_up1", act=True), "conv_up1", 2)
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
    walk.left_over()
    return walk.convs, data.outputs[0], output


def detect(layers: list[Layer]) -> bool:
    """Whether a graph is meant as an RRDBNet: its dense blocks concatenate (no other architecture here does)."""
    return any(layer.type == "Concat" for layer in layers)


def convert_files(param: Path, weights: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Converts an ncnn RRDBNet from its `.param` and `.bin`.

    Returns:
      (hparams of `RRDBNet`, {"params": ...}, what model.json's "source" records about the graph).
    """
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
        hparams, variables, _ = torch_keys.convert(sd)
    except ConversionError as e:
        raise ConversionError(f"{param}: {e}") from None
    return hparams, variables, {"storage": storage, "input_blob": data, "output_blob": output}
