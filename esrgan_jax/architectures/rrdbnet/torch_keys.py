"""RRDBNet (ESRGAN generator) checkpoints in the three key layouts found in the wild.

- `basicsr`: BasicSR / Real-ESRGAN `conv_first, body.N.rdbK.convJ, conv_body, conv_up1/2, conv_hr, conv_last`.
- `esrgan-new`: xinntao/ESRGAN (and BSRGAN/RealSR) `conv_first, RRDB_trunk.N.RDBK.convJ, trunk_conv,
  upconv1/2, HRconv, conv_last`; the released RRDB_ESRGAN_x4.pth / RRDB_PSNR_x4.pth use it.
- `esrgan-old`: the original flattened `nn.Sequential`: `model.0`, `model.1.sub.N.RDBK.convJ.0`, trunk conv
  `model.1.sub.{num_block}`, then `model.3, 6, 8, 10` (upconv1, upconv2, HRconv, conv_last) for x4.

Hyper-parameters come from the tensors: num_feat and num_in_ch from conv_first, num_grow_ch from the first
dense conv, num_block from the highest block index, scale from conv_first's input channels relative to
conv_last's output channels (x4: equal, x2: 4 times, x1: 16 times; Real-ESRGAN's pixel-unshuffle models).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from esrgan_jax.architectures.tensors import (
    TORCH_LEAF,
    ConversionError,
    KeyFn,
    StateDict,
    first_keys,
    map_variables,
    require_conv,
)
from esrgan_jax.models.rrdbnet import RRDBNet

# Flax module name -> name in the xinntao layouts (BasicSR names are the Flax names with body_N -> body.N).
_NEW_NAMES = {"conv_body": "trunk_conv", "conv_up1": "upconv1", "conv_up2": "upconv2", "conv_hr": "HRconv"}
_OLD_NAMES = {
    "conv_first": "model.0",
    "conv_up1": "model.3",
    "conv_up2": "model.6",
    "conv_hr": "model.8",
    "conv_last": "model.10",
}
# Regex of a dense-block key per layout; group 1 is the RRDB index.
_BLOCK_RE = {
    "basicsr": re.compile(r"body\.(\d+)\.rdb[123]\."),
    "esrgan-new": re.compile(r"RRDB_trunk\.(\d+)\.RDB[123]\."),
    "esrgan-old": re.compile(r"model\.1\.sub\.(\d+)\.RDB[123]\."),
}
# conv_first input channels / conv_last output channels -> scale (pixel-unshuffle by 4 // scale).
_SCALE_BY_RATIO = {1: 4, 4: 2, 16: 1}


def detect_layout(sd: StateDict) -> str | None:
    """'basicsr', 'esrgan-new', 'esrgan-old', or None when `sd` is no RRDBNet state dict."""
    keys = list(sd)
    if "model.0.weight" in sd and any(k.startswith("model.1.sub.") for k in keys):
        return "esrgan-old"
    if any(k.startswith(("RRDB_trunk.", "trunk_conv.")) for k in keys):
        return "esrgan-new"
    if "conv_first.weight" in sd and any(k.startswith(("body.0.rdb1.", "conv_body.")) for k in keys):
        return "basicsr"
    return None


def detect(sd: StateDict) -> bool:
    """Whether `sd` looks like an RRDBNet checkpoint in any known layout (used by `--kind auto`)."""
    return detect_layout(sd) is not None


def key_fn(layout: str, num_block: int) -> KeyFn:
    """The function mapping a Flax variable path to its key in `layout` (export inverts through it too)."""

    def fn(path: tuple[str, ...]) -> str:
        *modules, leaf = path[1:]  # drop the "params" collection
        top, rest = modules[0], modules[1:]
        if top.startswith("body_"):
            i = top.split("_")[1]
            rdb, conv = rest  # ("rdb1", "conv1")
            if layout == "basicsr":
                return f"body.{i}.{rdb}.{conv}.{TORCH_LEAF[leaf]}"
            rdb = rdb.upper()  # xinntao spells RDB1..3 in capitals
            if layout == "esrgan-new":
                return f"RRDB_trunk.{i}.{rdb}.{conv}.{TORCH_LEAF[leaf]}"
            return f"model.1.sub.{i}.{rdb}.{conv}.0.{TORCH_LEAF[leaf]}"  # each conv sat in Sequential(conv, act)
        if layout == "basicsr":
            name = top
        elif layout == "esrgan-new":
            name = _NEW_NAMES.get(top, top)
        else:
            name = f"model.1.sub.{num_block}" if top == "conv_body" else _OLD_NAMES[top]
        return f"{name}.{TORCH_LEAF[leaf]}"

    return fn


def infer_hparams(sd: StateDict, layout: str) -> dict[str, Any]:
    """num_in_ch, num_out_ch, scale, num_feat, num_block, num_grow_ch of an RRDBNet state dict in `layout`."""
    if layout == "esrgan-old":
        _check_old_upsampling(sd)  # first: an x2/x8 old model would otherwise look like one missing model.10
    blocks = sorted({int(m.group(1)) for k in sd if (m := _BLOCK_RE[layout].match(k))})
    names = key_fn(layout, 0)
    first = require_conv(sd, names(("params", "conv_first", "kernel")))
    last = require_conv(sd, names(("params", "conv_last", "kernel")))
    if not blocks:
        raise ConversionError(f"missing key {names(('params', 'body_0', 'rdb1', 'conv1', 'kernel'))!r}")
    grow = require_conv(sd, names(("params", "body_0", "rdb1", "conv1", "kernel")))
    in_ch, out_ch = int(first.shape[1]), int(last.shape[0])
    ratio = in_ch // out_ch if in_ch % out_ch == 0 else 1
    ratio = ratio if ratio in _SCALE_BY_RATIO else 1  # e.g. 6 -> 3 channels: an x4 model with 6 inputs
    return {
        "num_in_ch": in_ch // ratio,
        "num_out_ch": out_ch,
        "scale": _SCALE_BY_RATIO[ratio],
        "num_feat": int(first.shape[0]),
        "num_block": blocks[-1] + 1,
        "num_grow_ch": int(grow.shape[0]),
    }


def _check_old_upsampling(sd: StateDict) -> None:
    """The old Sequential has 5 + 3*log2(upscale) entries; RRDBNet here always has two x2 upsampling stages."""
    top = max(int(m.group(1)) for k in sd if (m := re.match(r"model\.(\d+)\.", k)))
    stages = (top - 4) // 3
    if stages != 2:
        raise ConversionError(
            f"old-layout ESRGAN with {stages} upsampling stage(s) (last module model.{top}); "
            "only the x4 layout with two stages (last module model.10) is supported"
        )


def layout_keys(layout: str) -> Callable[[dict[str, Any]], KeyFn]:
    """hparams -> the `key_fn` of `layout` for that model (the export layouts' form)."""
    return lambda hparams: key_fn(layout, hparams["num_block"])


def refuse_x4_only(layout: str) -> Callable[[dict[str, Any]], str | None]:
    """The refusal of the xinntao layouts for x2/x1 models: xinntao's code never had pixel-unshuffle."""

    def refuse(hparams: dict[str, Any]) -> str | None:
        scale = hparams.get("scale", 4)
        if scale == 4:
            return None
        return (
            f"the {layout} layout holds only x4 RRDBNet models; this one is x{scale} (pixel-unshuffle), "
            "export it with --layout basicsr"
        )

    return refuse


def convert(sd: StateDict) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Converts an RRDBNet state dict in any known layout.

    Args:
      sd: flat state dict (numpy arrays), already unwrapped from params/params_ema and `module.`.

    Returns:
      (hparams of `RRDBNet`, {"params": ...}, layout name).
    """
    layout = detect_layout(sd)
    if layout is None:
        raise ConversionError(
            f"not an RRDBNet checkpoint in any known layout (old ESRGAN, xinntao, BasicSR); keys: {first_keys(sd)}"
        )
    hparams = infer_hparams(sd, layout)
    module = RRDBNet(**hparams)
    side = 4 // hparams["scale"]
    variables = map_variables(sd, module, (1, side, side, hparams["num_in_ch"]), key_fn(layout, hparams["num_block"]))
    return hparams, variables, layout
