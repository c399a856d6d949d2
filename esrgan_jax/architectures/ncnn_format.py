"""The two files of an ncnn model: the text `.param` graph and the `.bin` weights, read into plain Python/numpy.

`.param` (text): the magic `7767517`, a `layer_count blob_count` line, then one line per layer:
`Type name n_in n_out in_blob... out_blob... k=v ...`. A key `k` is a parameter id; a value with `.`/`e` is a
float, else an int; an array parameter `k` is written under the key `-23300-k` as `N,v1,...,vN`.

`.bin`: the weights of the layers that have any, in `.param` order, with no names and no sizes. A
Convolution stores `weight_data_size` values [out, in, kh, kw] after a 4-byte storage tag (0: float32,
0x01306B47: float16, padded to a multiple of 4 bytes), then, if it has a bias, `num_output` float32 values
with no tag; a PReLU stores its `num_slope` float32 slopes with no tag. Other tags (int8 0x000D4B38, 256-entry
quantisation tables) are refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from esrgan_jax.architectures.tensors import ConversionError
from esrgan_jax.filekind import misnamed

MAGIC = 7767517
ARRAY_KEY = -23300  # an array parameter k is written as key -23300-k
FP16_TAG = 0x01306B47
INT8_TAG = 0x000D4B38
Value = int | float | tuple[int | float, ...]


class Layer(NamedTuple):
    """One `.param` line: layer type and name, blob names in and out, parameters {id: value}."""

    type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[int, Value]


def _number(token: str) -> int | float:
    # ncnn's own rule (ParamDict::load_param): a value is a float when it contains '.' or an exponent.
    return float(token) if any(c in token for c in ".eE") else int(token)


def _params(tokens: list[str]) -> dict[int, Value]:
    params: dict[int, Value] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep:
            raise ValueError(f"parameter {token!r} is not key=value")
        k = int(key)
        if k <= ARRAY_KEY:
            n, *values = value.split(",")
            if int(n) != len(values):
                raise ValueError(f"array parameter {token!r} announces {n} values, holds {len(values)}")
            params[ARRAY_KEY - k] = tuple(_number(v) for v in values)
        else:
            params[k] = _number(value)
    return params


def read_param(path: str | os.PathLike) -> list[Layer]:
    """The layers of an ncnn `.param` text file, checked to be a well-formed graph (each blob made once, before use)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConversionError(
            misnamed(path, "ncnn-param") or f"{path}: cannot read ncnn .param ({type(e).__name__})"
        ) from None
    lines = [line for line in lines if line.strip()]
    if not lines or lines[0].strip() != str(MAGIC):
        raise ConversionError(
            misnamed(path, "ncnn-param")
            or f"{path}: not a text ncnn .param file (the first line is not the magic {MAGIC})"
        )
    try:
        n_layers, n_blobs = (int(t) for t in lines[1].split())
    except (IndexError, ValueError):
        raise ConversionError(f"{path}: line 2 should be 'layer_count blob_count'") from None
    layers, produced = [], set()
    for lineno, line in enumerate(lines[2:], start=3):
        tokens = line.split()
        try:
            kind, name, n_in, n_out = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
            inputs, outputs = tuple(tokens[4 : 4 + n_in]), tuple(tokens[4 + n_in : 4 + n_in + n_out])
            if len(inputs) != n_in or len(outputs) != n_out:
                raise ValueError(f"fewer blob names than {n_in} in + {n_out} out")
            params = _params(tokens[4 + n_in + n_out :])
        except (IndexError, ValueError) as e:
            raise ConversionError(f"{path}: line {lineno}: cannot parse layer ({e})") from None
        if missing := [b for b in inputs if b not in produced]:
            raise ConversionError(f"{path}: line {lineno}: {name} reads blob {missing[0]!r} before any layer makes it")
        if again := [b for b in outputs if b in produced]:
            raise ConversionError(f"{path}: line {lineno}: {name} makes blob {again[0]!r} a second time")
        produced.update(outputs)
        layers.append(Layer(kind, name, inputs, outputs, params))
    if (len(layers), len(produced)) != (n_layers, n_blobs):
        raise ConversionError(
            f"{path}: header announces {n_layers} layers and {n_blobs} blobs, the file has {len(layers)} and "
            f"{len(produced)}"
        )
    return layers


class ConvWeights(NamedTuple):
    """What a layer reads from the `.bin`: a tagged weight array of `weight_size` values (a Convolution's; none
    when 0), then `bias_size` untagged float32 values (a Convolution's bias, a PReLU's slopes: `raw`)."""

    name: str
    weight_size: int
    bias_size: int
    raw: str = "bias"


def bin_size(convs: list[ConvWeights], tag: int) -> int:
    """Bytes of a `.bin` holding `convs` with every weight array stored under `tag` (0 or FP16_TAG)."""
    per_weight = 2 if tag == FP16_TAG else 4
    tagged = sum(4 + -(-c.weight_size * per_weight // 4) * 4 for c in convs if c.weight_size)
    return tagged + sum(4 * c.bias_size for c in convs)


def read_bin(path: str | os.PathLike, convs: list[ConvWeights], param_name: str) -> tuple[list, str]:
    """The float32 (weights, bias) of each of `convs` from an ncnn `.bin`, in order; and the storage found.

    Args:
      path: the `.bin` file.
      convs: the layers of the `.param` that hold weights, in file order.
      param_name: the `.param` file's name, for messages about a `.bin` that does not belong to it.

    Returns:
      ([(weights [weight_size], bias [bias_size]), ...], "float16", "float32" or "float16+float32").
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConversionError(f"{path}: cannot read ncnn .bin ({type(e).__name__})") from None
    fits = (bin_size(convs, FP16_TAG), bin_size(convs, 0))

    def misfit(detail: str) -> ConversionError:  # the sizes say what differs; `detail` where reading stopped
        if other := misnamed(path, "ncnn-bin"):
            return ConversionError(other)
        return ConversionError(
            f"{path}: does not fit {param_name}, which needs {fits[0]:,} bytes with float16 weights or {fits[1]:,} "
            f"with float32; the file has {len(data):,} ({detail})"
        )

    out, storages, pos = [], set(), 0

    def take(n: int, what: str) -> bytes:
        nonlocal pos
        if pos + n > len(data):
            raise misfit(f"it ends inside {what}")
        pos += n
        return data[pos - n : pos]

    for conv in convs:
        if not conv.weight_size:
            slopes = take(conv.bias_size * 4, f"the {conv.raw} of {conv.name}")
            out.append((np.zeros(0, np.float32), np.frombuffer(slopes, "<f4").astype(np.float32)))
            continue
        tag = int.from_bytes(take(4, f"the storage tag of {conv.name}"), "little")
        if tag == INT8_TAG:
            raise ConversionError(f"{path}: {conv.name} has int8-quantised weights (tag 0x{tag:08x}); only float32 "
                                  "and float16 weights can be converted exactly")  # fmt: skip
        if tag == FP16_TAG:
            raw = take(-(-conv.weight_size * 2 // 4) * 4, f"the float16 weights of {conv.name}")
            weights = np.frombuffer(raw, "<f2", conv.weight_size).astype(np.float32)
            storages.add("float16")
        elif tag == 0:
            weights = np.frombuffer(take(conv.weight_size * 4, f"the weights of {conv.name}"), "<f4").astype(np.float32)
            storages.add("float32")
        elif len(data) not in fits:  # most likely the weights of another model, read out of step
            raise misfit(f"at byte {pos - 4:,}, {conv.name}'s storage tag 0x{tag:08x} is unknown")
        else:
            raise ConversionError(
                f"{path}: {conv.name}'s weights have the unknown storage tag 0x{tag:08x}; only 0 (float32) and "
                f"0x{FP16_TAG:08x} (float16) are read"
            )
        bias = np.frombuffer(take(conv.bias_size * 4, f"the {conv.raw} of {conv.name}"), "<f4").astype(np.float32)
        out.append((weights, bias))
    if pos != len(data):
        last = convs[-1].name if convs else "the start"
        raise misfit(f"{len(data) - pos:,} bytes are left over after {last}")
    return out, "+".join(sorted(storages))
