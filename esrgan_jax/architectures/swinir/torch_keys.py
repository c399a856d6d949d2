"""SwinIR checkpoints: the official keys (`.pth` under `params` or `params_ema`, or `.safetensors`), read with every
hyper-parameter inferred from the tensors as spandrel does, and written back with the buffers spandrel needs.

Upsampler: "nearest+conv" if `conv_before_upsample.0` and `conv_up1` exist, "pixelshuffle" if only the former,
"pixelshuffledirect" if `upsample.0`, else "" (x1). embed_dim and in_chans from `conv_first.weight`, mlp_ratio from
`fc1.bias`, window_size from `relative_position_index`, depths from the block indices, num_heads from each layer's
bias table, resi_connection from `conv_after_body.weight` (1conv) or its absence (3conv), img_range 255 for
window 7 (the JPEG models), img_size from the first shifted block's `attn_mask` (64 without one).
The buffers (`attn.relative_position_index` of every block, `attn_mask` of every shifted block) are not variables:
import checks the index and skips the masks; export (`complete`) writes both and puts the keys in the official
module order.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from esrgan_jax.architectures.swinir.blocks import relative_position_index, shifted_window_mask
from esrgan_jax.architectures.swinir.model import NUM_FEAT, SwinIR
from esrgan_jax.architectures.tensors import (
    TORCH_LEAF,
    ConversionError,
    StateDict,
    first_keys,
    map_variables,
    require_conv,
)

BLOCK0 = "layers.0.residual_group.blocks.0."
DETECT = (
    f"{BLOCK0}norm1.weight",
    "conv_first.weight",
    f"{BLOCK0}mlp.fc1.bias",
    f"{BLOCK0}attn.relative_position_index",
)
BUFFERS = ("relative_position_index", "attn_mask")
_INDEX = re.compile(r"_(\d+)$")
_BLOCK = re.compile(r"layers\.(\d+)\.residual_group\.blocks\.(\d+)\.")
# The official registration order of named modules (children after their parent's own tensors); list indices
# sort as numbers. It orders an exported state dict as PyTorch's `state_dict()` does.
_RANK = {name: i for i, name in enumerate((
    "conv_first", "patch_embed", "layers", "norm", "conv_after_body", "conv_before_upsample", "upsample", "conv_up1",
    "conv_up2", "conv_hr", "conv_last",
))} | {name: i for i, name in enumerate(("residual_group", "conv"))} | {name: i for i, name in enumerate((
    "attn_mask", "norm1", "attn", "norm2", "mlp",
))} | {name: i for i, name in enumerate((
    "relative_position_bias_table", "relative_position_index", "qkv", "proj", "fc1", "fc2", "weight", "bias"
))}  # fmt: skip


def detect(sd: StateDict) -> bool:
    """spandrel's test: the first block's norm, MLP and position index, and a first conv."""
    return all(k in sd for k in DETECT)


def key_fn(path: tuple[str, ...]) -> str:
    """("params", "layers_0", "residual_group", "blocks_1", "attn", "qkv", "kernel") ->
    "layers.0.residual_group.blocks.1.attn.qkv.weight"."""
    modules = [_INDEX.sub(r".\1", name) for name in path[1:-1]]
    return ".".join([*modules, TORCH_LEAF.get(path[-1], path[-1])])


def _count(sd: StateDict, prefix: str) -> int:
    """How many `prefix{i}.` entries there are (the length of an nn.ModuleList)."""
    return len({int(m.group(1)) for k in sd if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))})


def _scale(sd: StateDict, upsampler: str, in_chans: int) -> int:
    if upsampler == "nearest+conv":
        if "conv_up3.weight" in sd:
            raise ConversionError("a nearest+conv SwinIR x8 (conv_up3): only scales 1 to 4 convert")
        return 4 if "conv_up2.weight" in sd else 2
    if upsampler == "pixelshuffle":
        first = require_conv(sd, "upsample.0.weight")
        return 3 if first.shape[0] == 9 * first.shape[1] else 2 ** _count(sd, "upsample.")
    if upsampler == "pixelshuffledirect":
        return math.isqrt(require_conv(sd, "upsample.0.weight").shape[0] // in_chans)
    return 1


def infer_hparams(sd: StateDict) -> dict[str, Any]:
    """Every `SwinIR` hyper-parameter of an official state dict."""
    if "conv_before_upsample.0.weight" in sd:
        upsampler = "nearest+conv" if "conv_up1.weight" in sd else "pixelshuffle"
    else:
        upsampler = "pixelshuffledirect" if "upsample.0.weight" in sd else ""
    first = require_conv(sd, "conv_first.weight")
    embed_dim, in_chans = int(first.shape[0]), int(first.shape[1])
    window = math.isqrt(sd[BLOCK0 + "attn.relative_position_index"].shape[0])
    mask = sd.get("layers.0.residual_group.blocks.1.attn_mask")
    layers = _count(sd, "layers.")
    return {
        "in_chans": in_chans,
        "embed_dim": embed_dim,
        "depths": [_count(sd, f"layers.{i}.residual_group.blocks.") for i in range(layers)],
        "num_heads": [int(sd[f"layers.{i}.residual_group.blocks.0.attn.relative_position_bias_table"].shape[1])
                      for i in range(layers)],  # fmt: skip
        "window_size": window,
        "mlp_ratio": float(sd[BLOCK0 + "mlp.fc1.bias"].shape[0] / embed_dim),
        "upsampler": upsampler,
        "resi_connection": "1conv" if "conv_after_body.weight" in sd else "3conv",
        "scale": _scale(sd, upsampler, in_chans),
        "img_range": 255.0 if window == 7 else 1.0,
        "num_feat": int(sd["conv_before_upsample.0.weight"].shape[0]) if "conv_before_upsample.0.weight" in sd
        else NUM_FEAT,
        "img_size": math.isqrt(mask.shape[0]) * window if mask is not None else 64,
    }  # fmt: skip


def convert(sd: StateDict) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Converts an official SwinIR state dict (already unwrapped from params/params_ema and `module.`).

    Returns:
      (hparams of `SwinIR`, {"params": ...}, "swinir").
    """
    if "conv_first.1.weight" in sd or "absolute_pos_embed" in sd:
        raise ConversionError("a SwinIR with pixel-unshuffled input or absolute position embedding does not convert")
    if missing := [k for k in DETECT if k not in sd]:
        raise ConversionError(f"not a SwinIR checkpoint (no {missing[0]!r}); keys: {first_keys(sd)}")
    hparams = infer_hparams(sd)
    module = SwinIR(**{k: tuple(v) if isinstance(v, list) else v for k, v in hparams.items()})
    try:
        module.check()
    except ValueError as e:
        raise ConversionError(str(e)) from None
    want = relative_position_index(hparams["window_size"])
    for key in (k for k in sd if k.endswith("relative_position_index")):
        if not np.array_equal(np.asarray(sd[key]), want):
            raise ConversionError(f"{key} is not the standard relative position index of a {want.shape} window")
    shape = (1, hparams["window_size"], hparams["window_size"], hparams["in_chans"])
    variables = map_variables(sd, module, shape, key_fn, ignore=lambda k: k.rsplit(".", 1)[-1] in BUFFERS)
    return hparams, variables, "swinir"


def _order(key: str) -> tuple:
    return tuple((0, int(p)) if p.isdigit() else (1, _RANK.get(p, len(_RANK)), p) for p in key.split("."))


def complete(hparams: dict[str, Any], sd: StateDict) -> StateDict:
    """`sd` (the variables) with the official buffers added, in the official order: what spandrel detects and
    loads strictly, and reads img_size back from."""
    window, size = hparams["window_size"], hparams["img_size"]
    index, mask = relative_position_index(window), shifted_window_mask(size, size, window, window // 2)
    extra = {}
    for i, depth in enumerate(hparams["depths"]):
        for j in range(depth):
            block = f"layers.{i}.residual_group.blocks.{j}."
            extra[block + "attn.relative_position_index"] = index.copy()
            if j % 2:
                extra[block + "attn_mask"] = mask.copy()
    return {k: v for k, v in sorted({**sd, **extra}.items(), key=lambda kv: _order(kv[0]))}
