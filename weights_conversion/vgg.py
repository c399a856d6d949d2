"""torchvision VGG16/VGG19 checkpoints (`vgg19-dcbb9e9d.pth`-style `features.N`) to VGG feature extractors.

torchvision numbers every layer of `features` (conv, ReLU, max-pool alike), so conv `convS_K` is
`features.{its index in layer_names(arch)}`. The classifier is not needed for features and is skipped.
VGG16 has 13 convs and VGG19 16, which is how `--kind auto` tells them apart.
"""

from __future__ import annotations

import re
from typing import Any

from esrgan_jax.models import build_model
from esrgan_jax.models.vgg import layer_names
from weights_conversion.common import TORCH_LEAF, ConversionError, StateDict, first_keys, map_variables

CONV_COUNT = {"vgg16": 13, "vgg19": 16}
# What each kind returns unless the caller asks for other layers: ESRGAN's perceptual loss takes VGG19
# conv5_4 before its ReLU; LPIPS takes the five VGG16 relu*_* stage outputs.
DEFAULT_LAYERS = {
    "vgg19": ["conv5_4"],
    "vgg16": ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"],
}
_FEATURE_RE = re.compile(r"features\.(\d+)\.(weight|bias)")


def _is_classifier(key: str) -> bool:
    return key.startswith("classifier.")


def count_convs(sd: StateDict) -> int:
    """Number of conv weights (4-D `features.N.weight`) in `sd`."""
    return sum(1 for k, v in sd.items() if _FEATURE_RE.fullmatch(k) and k.endswith("weight") and v.ndim == 4)


def _is_features(sd: StateDict) -> bool:
    keys = [k for k in sd if not _is_classifier(k)]
    return bool(keys) and all(_FEATURE_RE.fullmatch(k) for k in keys)


def detect_vgg19(sd: StateDict) -> bool:
    """A torchvision-style state dict with VGG19's 16 convs."""
    return _is_features(sd) and count_convs(sd) == CONV_COUNT["vgg19"]


def detect_vgg16(sd: StateDict) -> bool:
    """A torchvision-style state dict with VGG16's 13 convs."""
    return _is_features(sd) and count_convs(sd) == CONV_COUNT["vgg16"]


def _convert(sd: StateDict, arch: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    if not _is_features(sd):
        other = [k for k in sd if not _is_classifier(k) and not _FEATURE_RE.fullmatch(k)]
        raise ConversionError(f"not a torchvision VGG `features.N` checkpoint; unexpected keys: {first_keys(other)}")
    n = count_convs(sd)
    if n != CONV_COUNT[arch]:
        found = {v: k for k, v in CONV_COUNT.items()}.get(n, "unknown")
        raise ConversionError(f"{arch} has {CONV_COUNT[arch]} convs, this checkpoint has {n} ({found})")
    hparams = {"layers": list(DEFAULT_LAYERS[arch]), "use_input_norm": True}
    names = layer_names(arch)
    # Build every conv (up to the last one), whatever layers are returned by default.
    last_conv = [n for n in names if n.startswith("conv")][-1]
    module = build_model(arch, hparams, layers=(last_conv,))

    def key_fn(path: tuple[str, ...]) -> str:
        _, conv, leaf = path
        return f"features.{names.index(conv)}.{TORCH_LEAF[leaf]}"

    variables = map_variables(sd, module, (1, 32, 32, 3), key_fn, ignore=_is_classifier)
    return hparams, variables, "torchvision"


def convert_vgg19(sd: StateDict) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Converts torchvision VGG19 weights; returns (hparams, {"params": ...}, "torchvision")."""
    return _convert(sd, "vgg19")


def convert_vgg16(sd: StateDict) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Converts torchvision VGG16 weights; returns (hparams, {"params": ...}, "torchvision")."""
    return _convert(sd, "vgg16")
