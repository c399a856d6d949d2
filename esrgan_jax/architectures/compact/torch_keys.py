"""SRVGGNetCompact checkpoints: Real-ESRGAN / BasicSR `body.{i}` keys (`.pth` under `params` or `params_ema`, or
`.safetensors`), and spandrel's detection of them.

`body.{2k}.weight/bias` are the convs, `body.{2k+1}.weight` [num_feat] the PReLU slopes, `body.{2n+2}` the last
conv. Hyper-parameters come from the tensors as spandrel reads them: num_in_ch and num_feat from `body.0.weight`,
num_conv from the highest body index, scale from the last conv's num_out_ch * scale**2 outputs with
num_out_ch = num_in_ch. Compacts built with ReLU or LeakyReLU (no `body.1.weight`) are not recognised, as in
spandrel.
"""

from __future__ import annotations

import re
from typing import Any

from esrgan_jax.architectures.compact.model import SCALES, SRVGGNetCompact
from esrgan_jax.architectures.tensors import (
    TORCH_LEAF,
    ConversionError,
    StateDict,
    first_keys,
    map_variables,
    require_conv,
)

_BODY_RE = re.compile(r"body\.(\d+)\.(weight|bias)")


def detect(sd: StateDict) -> bool:
    """spandrel's test: a first conv and a PReLU after it, and nothing but `body.*` keys."""
    first, prelu = sd.get("body.0.weight"), sd.get("body.1.weight")
    if first is None or prelu is None or first.ndim != 4 or prelu.ndim != 1:
        return False
    return all(_BODY_RE.fullmatch(k) for k in sd)


def key_fn(path: tuple[str, ...]) -> str:
    """The checkpoint key of a Flax variable path: ("params", "body_3", "negative_slope") -> "body.3.weight"."""
    _, module, leaf = path
    return f"body.{module.removeprefix('body_')}.{TORCH_LEAF[leaf]}"


def infer_hparams(sd: StateDict) -> dict[str, Any]:
    """num_in_ch, num_out_ch, num_feat, num_conv and scale of a compact state dict."""
    first = require_conv(sd, "body.0.weight")
    last_index = max(int(m.group(1)) for k in sd if (m := _BODY_RE.fullmatch(k)))
    if last_index % 2:
        raise ConversionError(f"the last body entry body.{last_index} is a PReLU; a compact ends with a conv")
    last = require_conv(sd, f"body.{last_index}.weight")
    in_ch, out = int(first.shape[1]), int(last.shape[0])
    scale = next((s for s in SCALES if out == in_ch * s * s), None)
    if scale is None:
        raise ConversionError(
            f"body.{last_index}.weight has {out} output channels; expected num_in_ch ({in_ch}) x scale**2 for a "
            "scale of 1 to 4"
        )
    return {
        "num_in_ch": in_ch,
        "num_out_ch": in_ch,
        "num_feat": int(first.shape[0]),
        "num_conv": (last_index - 2) // 2,
        "scale": scale,
    }


def convert(sd: StateDict) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Converts a compact state dict.

    Args:
      sd: flat state dict (numpy arrays), already unwrapped from params/params_ema and `module.`.

    Returns:
      (hparams of `SRVGGNetCompact`, {"params": ...}, "basicsr").
    """
    if "body.0.weight" not in sd:
        raise ConversionError(f"not an SRVGGNetCompact checkpoint (no 'body.0.weight'); keys: {first_keys(sd)}")
    if "body.1.weight" not in sd:
        raise ConversionError(
            "no PReLU slopes 'body.1.weight': a compact with ReLU or LeakyReLU activations; only PReLU compacts "
            "(Real-ESRGAN's act_type='prelu') convert"
        )
    prelu = sd["body.1.weight"]
    if prelu.ndim != 1:
        raise ConversionError(f"body.1.weight has shape {prelu.shape}; expected the PReLU slopes [num_feat]")
    hparams = infer_hparams(sd)
    module = SRVGGNetCompact(**hparams)
    variables = map_variables(sd, module, (1, 1, 1, hparams["num_in_ch"]), key_fn)
    return hparams, variables, "basicsr"
