"""Reading PyTorch checkpoints (`.pth` and `.safetensors`) into a flat dict of numpy arrays.

`.pth` files are read with `torch.load(weights_only=True)`, so no pickled code ever runs; torch is imported
only here and only for `.pth` (it is the optional `convert` extra). BasicSR wraps state dicts as
`{"params": ...}` or `{"params_ema": ..., "params": ...}`; the EMA weights are the ones to keep, as
Real-ESRGAN's inference does. A `module.` prefix (saved from DataParallel) is stripped.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from esrgan_jax.filekind import misnamed
from weights_conversion.common import ConversionError, StateDict

# Wrapper keys in order of preference: EMA weights are the ones BasicSR/Real-ESRGAN evaluate and release.
WRAPPER_KEYS = ("params_ema", "params", "state_dict")


def sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file (BasicSR names released files after its first 8 digits)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load_pth(path: Path) -> Any:
    try:
        import torch
    except ImportError:
        raise ConversionError(
            f"{path}: reading .pth files needs PyTorch; install the CPU build (`pip install torch`) "
            "or convert the file to .safetensors"
        ) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types (UnpicklingError, RuntimeError, EOFError, ...)
        text = str(e)
        if other := misnamed(path, "pth"):  # torch calls any foreign bytes a weights-only failure: name them
            raise ConversionError(other) from None
        if "Weights only load failed" in text:
            # torch's own advice is to load with weights_only=False, i.e. to run the file's code: never here.
            found = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", text)
            what = f" ({found.group(1)})" if found else ""
            raise ConversionError(
                f"{path}: holds pickled Python objects{what}, not only tensors, so it was not loaded "
                "(weights_only=True); re-save it as a state_dict of tensors from code you trust"
            ) from None
        raise ConversionError(f"{path}: cannot read checkpoint ({_reason(e)})") from None


def _reason(e: BaseException) -> str:
    """The first line of an exception's message, or its type when it has none."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _load_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    try:
        return load_file(path)
    except Exception as e:  # SafetensorError, or OSError for unreadable files
        raise ConversionError(
            misnamed(path, "safetensors") or f"{path}: cannot read checkpoint ({_reason(e)})"
        ) from None


def _to_numpy(key: str, value: Any, path: Path) -> np.ndarray:
    if isinstance(value, np.ndarray):
        array = value
    elif hasattr(value, "detach"):  # a torch.Tensor; numpy has no bfloat16, so widen floats first
        value = value.detach().cpu()
        array = (value.float() if value.is_floating_point() else value).numpy()
    else:
        raise ConversionError(f"{path}: entry {key!r} is a {type(value).__name__}, expected a tensor")
    return array.astype(np.float32) if np.issubdtype(array.dtype, np.floating) else array


def read_state_dict(path: str | os.PathLike) -> tuple[StateDict, str | None]:
    """Reads a checkpoint file into a flat state dict.

    Args:
      path: a `.pth`/`.pt`/`.ckpt` (torch pickle, read with weights_only=True) or `.safetensors` file.

    Returns:
      (state dict of numpy arrays, floats as float32; the wrapper key used: "params_ema", "params",
      "state_dict" or None for a raw state dict).
    """
    path = Path(path)
    if not path.exists():
        raise ConversionError(f"{path}: no such file")
    if not path.is_file():
        raise ConversionError(f"{path}: not a file")
    raw = _load_safetensors(path) if path.suffix == ".safetensors" else _load_pth(path)
    if not isinstance(raw, dict):
        raise ConversionError(f"{path}: holds a {type(raw).__name__}, expected a state dict of tensors")
    wrapper = next((k for k in WRAPPER_KEYS if isinstance(raw.get(k), dict)), None)
    inner = raw[wrapper] if wrapper else raw
    sd = {}
    for key, value in inner.items():
        key = str(key)
        sd[key.removeprefix("module.")] = _to_numpy(key, value, path)
    if not sd:
        raise ConversionError(f"{path}: the state dict is empty")
    return sd, wrapper
