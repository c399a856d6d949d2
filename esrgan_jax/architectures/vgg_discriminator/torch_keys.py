"""BasicSR `VGGStyleDiscriminator` checkpoints: ESRGAN's net_d (`network_d: type: VGGStyleDiscriminator`).

Real-ESRGAN's `RealESRGAN_x4plus_netD.pth` is a different network (a U-Net with spectral norm) and is refused
as an unknown layout.

Keys are the Flax names: `conv0_0` (with bias), `conv0_1`, `bn0_1`, `convS_0/1`, `bnS_0/1`, `linear1`,
`linear2`. BatchNorm's affine `weight`/`bias` become `scale`/`bias` and its `running_mean`/`running_var` the
`batch_stats` `mean`/`var`, so training resumes from PyTorch's statistics; `num_batches_tracked` is unused
(momentum is fixed). input_size is 256 when the extra `conv5_0` stage exists, else 128; num_feat and
num_in_ch come from `conv0_0`.
"""

from __future__ import annotations

from typing import Any

from esrgan_jax.architectures.tensors import (
    TORCH_LEAF,
    ConversionError,
    StateDict,
    first_keys,
    map_variables,
    require,
    require_conv,
)
from esrgan_jax.models.discriminator import VGGStyleDiscriminator


def detect(sd: StateDict) -> bool:
    """Whether `sd` looks like a VGG-style discriminator (used by `--kind auto`)."""
    return "conv0_0.weight" in sd and "linear1.weight" in sd


def key_fn(path: tuple[str, ...]) -> str:
    """The checkpoint key of a Flax variable path (also used by `weights_conversion.export`)."""
    _, module, leaf = path  # ("params" | "batch_stats", "bn1_0", "scale")
    return f"{module}.{TORCH_LEAF[leaf]}"


def convert(sd: StateDict) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Converts a BasicSR VGGStyleDiscriminator state dict.

    Args:
      sd: flat state dict (numpy arrays).

    Returns:
      (hparams {num_in_ch, num_feat, input_size}, {"params": ..., "batch_stats": ...}, "basicsr").
    """
    if "conv0_0.weight" not in sd:
        raise ConversionError(f"not a VGG-style discriminator checkpoint (no 'conv0_0.weight'); keys: {first_keys(sd)}")
    first = require_conv(sd, "conv0_0.weight")
    require(sd, "linear1.weight")
    hparams = {
        "num_in_ch": int(first.shape[1]),
        "num_feat": int(first.shape[0]),
        "input_size": 256 if "conv5_0.weight" in sd else 128,
    }
    module = VGGStyleDiscriminator(**hparams)
    size = hparams["input_size"]
    variables = map_variables(
        sd, module, (1, size, size, hparams["num_in_ch"]), key_fn, ignore=lambda k: k.endswith(".num_batches_tracked")
    )
    return hparams, variables, "basicsr"
