"""SRCNN checkpoints (`conv1`, `conv2`, `conv3`, e.g. yjn870/SRCNN-pytorch and testkit/torch_models.py).

Widths, kernel sizes and image channels are read from the tensors. The upscale factor is not in the weights
(SRCNN refines an image that was bicubic-upsampled beforehand), so it defaults to 4, ESRGAN's factor, and
`python -m weights_conversion --scale N` sets it (the record's `scale_in_weights=False`).
"""

from __future__ import annotations

from typing import Any

from esrgan_jax.architectures.tensors import (
    TORCH_LEAF,
    ConversionError,
    StateDict,
    first_keys,
    map_variables,
    require_conv,
)
from esrgan_jax.models.srcnn import SRCNN

DEFAULT_SCALE = 4
_KEYS = {f"conv{i}.{leaf}" for i in (1, 2, 3) for leaf in ("weight", "bias")}


def detect(sd: StateDict) -> bool:
    """Whether `sd` holds exactly SRCNN's three convs (used by `--kind auto`)."""
    return set(sd) == _KEYS


def key_fn(path: tuple[str, ...]) -> str:
    """The checkpoint key of a Flax variable path (also used by `weights_conversion.export`)."""
    _, conv, leaf = path
    return f"{conv}.{TORCH_LEAF[leaf]}"


def convert(sd: StateDict, scale: int = DEFAULT_SCALE) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Converts an SRCNN state dict.

    Args:
      sd: flat state dict (numpy arrays).
      scale: the bicubic pre-upsampling factor the model was trained for (metadata).

    Returns:
      (hparams {num_channels, scale, filters, kernels}, {"params": ...}, "srcnn").
    """
    if "conv1.weight" not in sd or "conv3.weight" not in sd:
        raise ConversionError(f"not an SRCNN checkpoint (no 'conv1.weight'/'conv3.weight'); keys: {first_keys(sd)}")
    convs = [require_conv(sd, f"conv{i}.weight") for i in (1, 2, 3)]
    hparams = {
        "num_channels": int(convs[0].shape[1]),
        "scale": int(scale),
        "filters": [int(convs[0].shape[0]), int(convs[1].shape[0])],
        "kernels": [int(c.shape[-1]) for c in convs],
    }
    module = SRCNN(**{**hparams, "filters": tuple(hparams["filters"]), "kernels": tuple(hparams["kernels"])})
    variables = map_variables(sd, module, (1, 16, 16, hparams["num_channels"]), key_fn)
    return hparams, variables, "srcnn"
