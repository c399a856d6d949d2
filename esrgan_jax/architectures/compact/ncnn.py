"""ncnn SRVGGNetCompact models (realesr-animevideov3's `.param` + `.bin`): proof that the graph is a compact,
then conversion.

The graph is walked back from its output blob, and every layer has to sit where SRVGGNetCompact puts it:

    out = PixelShuffle_s(conv_last(h)) + Interp_nearest_s(input)
    h   = prelu(conv(... prelu(conv_first(input)) ...))   (num_conv + 1 conv + PReLU pairs)

Every conv is 3x3, stride 1, padding 1, with bias and no fused activation; each PReLU has one slope per channel
of the conv it follows; PixelShuffle is PyTorch's channel order (mode 0); the add is a plain BinaryOp ADD.
The weights then get their Real-ESRGAN names (`body.{i}`) and go through `torch_keys.convert`, which infers
the hyper-parameters and checks every shape. Real-ESRGAN's `_UP2X` / `_UP3X` files are the x4 network followed
by an ncnn bicubic downscale of its output: they are refused with a pointer to the x4 file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from esrgan_jax.architectures.compact import torch_keys
from esrgan_jax.architectures.compact.model import SCALES
from esrgan_jax.architectures.ncnn_format import ConvWeights, Layer, read_bin, read_param
from esrgan_jax.architectures.ncnn_graph import GraphWalk
from esrgan_jax.architectures.tensors import ConversionError

_RESIZES = {1: "nearest", 2: "bilinear", 3: "bicubic"}


def detect(layers: list[Layer]) -> bool:
    """Whether a graph is meant as a compact: PReLU or PixelShuffle layers and no Concat (RRDBNet's mark)."""
    types = {layer.type for layer in layers}
    return bool(types & {"PReLU", "PixelShuffle"}) and "Concat" not in types


def _refuse_resize(node: Layer, param: Path) -> None:
    """The `_UP2X` / `_UP3X` graphs: an output resize after the network, which the model here does not have."""
    mode = _RESIZES.get(node.params.get(0, 0), f"type {node.params.get(0, 0)}")
    factor = node.params.get(1, 1.0)
    x4 = re.sub(r"_UP[23]X$", "_UP4X", param.stem)
    use = f"{x4}{param.suffix}" if x4 != param.stem else "the x4 file of the model"
    raise ConversionError(
        f"{param}: ends in an ncnn {mode} resize of the output by {factor:g} ({node.name}) after the network; "
        f"convert {use} instead (the same weights without the resize)"
    )


def prove(layers: list[Layer], param: Path) -> tuple[list[Layer], list[Layer], str, str]:
    """The convs and PReLUs of a compact graph, from the input on; its input and output blob names."""
    walk = GraphWalk(layers, param, "an SRVGGNetCompact")
    data, output = walk.ends()
    add = walk.node(output)
    if add.type == "Interp" and add.params.get(0, 0) != 1:
        _refuse_resize(add, param)
    if add.type != "BinaryOp" or not set(add.params.items()) <= {(0, 0), (1, 0)}:
        walk.fail(f"{add.name} is a {add.type} where the output adds the PixelShuffle and the upsampled input")
    pair = walk.inputs(add, 2, "the output add")
    shuffles = [n for n in pair if n.type == "PixelShuffle"]
    if len(shuffles) != 1:
        walk.fail(f"{add.name} adds {pair[0].name} and {pair[1].name}; one of them should be a PixelShuffle")
    shuffle, up = shuffles[0], pair[1] if pair[0] is shuffles[0] else pair[0]
    p = walk.keys(shuffle, {0, 1}, "the PixelShuffle")
    scale = p.get(0, 1)
    if scale not in SCALES or p.get(1, 0) != 0:
        walk.fail(f"{shuffle.name} is PixelShuffle x{scale} mode {p.get(1, 0)} where x1-x4 in PyTorch's order (0)")
    if walk.interp(up, "the output add", scale) is not data:
        walk.fail(f"{up.name} upsamples another blob than the Input {data.name}")
    convs, prelus = [], []
    h = walk.inputs(shuffle, 1, "the PixelShuffle")[0]
    h, conv = walk.conv(h, "the last conv", act=False), h
    convs.append(conv)
    while h is not data:
        role = f"the PReLU before {conv.name}"
        if h.type != "PReLU":
            walk.fail(f"{h.name} is a {h.type} where {role} should be")
        conv = walk.inputs(h, 1, role)[0]
        slopes = walk.keys(h, {0}, role).get(0, 0)
        if conv.type == "Convolution" and slopes != conv.params.get(0, 0):
            walk.fail(f"{h.name} has {slopes} slopes where {role} has one per channel ({conv.params.get(0, 0)})")
        prelus.append(h)
        h = walk.conv(conv, f"the conv before {h.name}", act=False)
        convs.append(conv)
    walk.left_over()
    return convs[::-1], prelus[::-1], data.outputs[0], output


def convert_files(param: Path, weights: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Converts an ncnn compact from its `.param` and `.bin`.

    Returns:
      (hparams of `SRVGGNetCompact`, {"params": ...}, what model.json's "source" records about the graph).
    """
    layers = read_param(param)
    convs, prelus, data, output = prove(layers, param)
    names = {id(c): f"body.{2 * i}" for i, c in enumerate(convs)}
    names.update({id(p): f"body.{2 * i + 1}" for i, p in enumerate(prelus)})
    in_file = [layer for layer in layers if id(layer) in names]  # the .bin follows the .param's layer order
    # A Convolution holds tagged weights and a bias; a PReLU its slopes alone.
    sizes = [
        ConvWeights(x.name, x.params[6], x.params[0])
        if x.type == "Convolution"
        else ConvWeights(x.name, 0, x.params[0], "slopes")
        for x in in_file
    ]
    arrays, storage = read_bin(weights, sizes, param.name)
    sd = {}
    for layer, (w, b) in zip(in_file, arrays, strict=True):
        name = names[id(layer)]
        if layer.type == "Convolution":
            sd[f"{name}.weight"], sd[f"{name}.bias"] = w.reshape(layer.params[0], -1, 3, 3), b
        else:
            sd[f"{name}.weight"] = b
    try:
        hparams, variables, _ = torch_keys.convert(sd)
    except ConversionError as e:
        raise ConversionError(f"{param}: {e}") from None
    return hparams, variables, {"storage": storage, "input_blob": data, "output_blob": output}
