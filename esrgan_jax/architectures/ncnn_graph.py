"""Proving that an ncnn graph is a given architecture: a walk back from the output blob that checks one layer at a
time and remembers every layer it used, so that a layer it never reached is an error too.

`GraphWalk` holds what every architecture's proof needs: the graph's single input and output, the layer behind
a blob (through Splits, which only fan a blob out), the parameters a layer may carry, a 3x3 stride-1 Convolution
with bias (optionally with LeakyReLU fused in, as onnx2ncnn writes it) and a nearest Interp. Each refusal is one
line: the `.param` file, "not <architecture>:", and the layer that does not fit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from esrgan_jax.architectures.ncnn_format import Layer
from esrgan_jax.architectures.tensors import ConversionError, first_keys

_ACTIVATIONS = {0: "no activation", 1: "ReLU", 2: "LeakyReLU", 3: "Clip", 4: "Sigmoid", 5: "Mish", 6: "HardSwish"}
# Convolution parameters that may appear, with ncnn's defaults where a missing one matters.
_CONV_KEYS = {0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19}
INTERP_DEFAULTS = {0: 0, 1: 1.0, 2: 1.0, 3: 0, 4: 0, 5: 0, 6: 0}  # type, h/w scale, h/w size, dynamic, align


class GraphWalk:
    """The backward walk over `layers` of the `.param` at `path`, proving it is `what` (e.g. "an RRDBNet")."""

    def __init__(self, layers: list[Layer], path: Path, what: str, slope: float = 0.2):
        self.layers, self.path, self.what, self.slope = layers, path, what, np.float32(slope)
        self.seen: set[int] = set()
        self.convs: dict[str, Layer] = {}  # role (the PyTorch module name) -> Convolution layer
        self.maker = {blob: layer for layer in layers for blob in layer.outputs}

    def fail(self, message: str) -> None:
        raise ConversionError(f"{self.path}: not {self.what}: {message}")

    def ends(self) -> tuple[Layer, str]:
        """The Input layer and the output blob; exactly one of each."""
        inputs = [layer for layer in self.layers if layer.type == "Input"]
        consumed = {blob for layer in self.layers for blob in layer.inputs}
        # A Split output that nothing reads changes nothing; any other unread blob is a second output.
        outputs = [b for layer in self.layers if layer.type != "Split" for b in layer.outputs if b not in consumed]
        if len(inputs) != 1 or len(inputs[0].outputs) != 1 or len(outputs) != 1:
            found = f"{len(inputs)} Input layers and {len(outputs)} output blobs ({first_keys(outputs)})"
            self.fail(f"{found}, not 1 and 1")
        self.seen.add(id(inputs[0]))
        return inputs[0], outputs[0]

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
        """Checks `node` is conv `role` (then LeakyReLU `slope` if `act`); returns the layer it reads."""
        fused = act
        if act and node.type == "ReLU":
            slope = self.keys(node, {0}, role).get(0, 0.0)
            if np.float32(slope) != self.slope:
                self.fail(f"{node.name} is a ReLU with slope {slope:g} where {role} needs LeakyReLU {self.slope:g}")
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
        if (kind, np.float32(slope)) != ((2, self.slope) if fused else (0, 0.0)):
            have = f"{_ACTIVATIONS.get(kind, kind)}" + (f" {slope:g}" if kind == 2 else "")
            want = f"LeakyReLU {self.slope:g}" if act else "no activation"
            self.fail(f"{node.name} applies {have} where {role} needs {want}")
        self.convs[role] = node
        return self.inputs(node, 1, role)[0]

    def interp(self, node: Layer, role: str, factor: int) -> Layer:
        """Checks `node` is a nearest upsampling by `factor` for `role`; returns the layer it reads."""
        if node.type != "Interp":
            self.fail(f"{node.name} is a {node.type} where the nearest x{factor} upsampling before {role} should be")
        p = {**INTERP_DEFAULTS, **self.keys(node, set(INTERP_DEFAULTS), role)}
        got, want = [p[k] for k in range(7)], [1, float(factor), float(factor), 0, 0, 0, 0]
        if got != want:
            self.fail(f"{node.name} is Interp {got} where {role} needs nearest x{factor}, i.e. {want}")
        return self.inputs(node, 1, role)[0]

    def left_over(self) -> None:
        """Refuses layers the walk never reached (Splits aside)."""
        left = [f"{x.name} ({x.type})" for x in self.layers if id(x) not in self.seen and x.type != "Split"]
        if left:
            self.fail(f"layers outside the {self.what.split()[-1]}: {first_keys(left)}")
