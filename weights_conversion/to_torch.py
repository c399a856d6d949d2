"""Flax variables -> a flat PyTorch state dict in a named key layout: the importers run backwards.

Each exportable kind names its layouts in its architecture record (the first is the default) with the wrapper key
its ecosystem ships by default. Keys come from the importers' own `key_fn`s, so a layout is spelled in exactly one
place and `python -m weights_conversion` reads back what is written here bit for bit. Kernels are transposed back from
`[kh, kw, in, out]` to `[out, in, kh, kw]` (Dense: `[in, out]` -> `[out, in]`), the inverse of
`common.to_flax`. BatchNorm layers also get `num_batches_tracked` (int64 0), which PyTorch's strict
`load_state_dict` requires; BatchNorm only reads it when momentum is None, and BasicSR's is 0.1.
"""

from __future__ import annotations

import re
from typing import Any

import jax
import numpy as np

from esrgan_jax.architectures import ARCHITECTURES, Layout
from weights_conversion.common import ConversionError, StateDict

# kind -> layout name -> Layout; the first layout of a kind is its default.
LAYOUTS: dict[str, dict[str, Layout]] = {arch.kind: dict(arch.layouts) for arch in ARCHITECTURES if arch.layouts}
# Order of a module's tensors in a PyTorch state dict: parameters, then buffers.
_LEAF_RANK = {"kernel": 0, "scale": 0, "bias": 1, "mean": 2, "var": 3, "num_batches_tracked": 4}


def check_layout(kind: str, hparams: dict[str, Any], layout: str | None) -> str:
    """The layout to export `kind` in (`None`: its default), or a ConversionError saying why not."""
    if kind not in LAYOUTS:
        raise ConversionError(f"a {kind} model cannot be exported (only {', '.join(LAYOUTS)})")
    layouts = LAYOUTS[kind]
    layout = layout or next(iter(layouts))
    if layout not in layouts:
        raise ConversionError(f"a {kind} model is exported in the {' or '.join(layouts)} layout, not {layout}")
    if why := layouts[layout].refuse(hparams):
        raise ConversionError(why)
    return layout


def to_torch(leaf: str, value: np.ndarray) -> np.ndarray:
    """One Flax array in PyTorch layout (the inverse of `common.to_flax`); C-contiguous for the writers."""
    value = np.asarray(value)
    if leaf == "kernel" and value.ndim == 4:
        return np.ascontiguousarray(value.transpose(3, 2, 0, 1))  # [kH, kW, inC, outC] -> [outC, inC, kH, kW]
    if leaf == "kernel" and value.ndim == 2:
        return np.ascontiguousarray(value.T)  # nn.Dense [in, out] -> nn.Linear [out, in]
    return np.ascontiguousarray(value)


def _order(entry: tuple[tuple[str, ...], str, Any]) -> tuple:
    """Module by module (numbers compared as numbers: body_2 before body_10), parameters before buffers."""
    modules, leaf, _ = entry
    natural = tuple(tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", m)) for m in modules)
    return natural, _LEAF_RANK.get(leaf, 5)


def state_dict(
    kind: str, hparams: dict[str, Any], variables: dict[str, Any], layout: str | None = None, half: bool = False
) -> tuple[StateDict, str]:
    """The PyTorch state dict of a model directory's variables.

    Args:
      kind, hparams: from the model directory's model.json.
      variables: `{"params": ..., ["batch_stats": ...]}` as numpy arrays (e.g. from `load_variables`).
      layout: a layout of `LAYOUTS[kind]`, or None for the kind's default.
      half: store floating-point tensors as float16 (integers are kept).

    Returns:
      (`{key: np.ndarray}` module by module, names in natural order, weights before buffers; the layout used).
    """
    layout = check_layout(kind, hparams, layout)
    key_fn = LAYOUTS[kind][layout].key_fn(hparams)
    entries = []
    for path, value in jax.tree_util.tree_flatten_with_path(variables)[0]:
        names = tuple(p.key for p in path)  # (collection, module..., leaf)
        entries.append((names[1:-1], names[-1], (key_fn(names), to_torch(names[-1], value))))
        if names[0] == "batch_stats" and names[-1] == "mean":
            # PyTorch names BatchNorm buffers after the module: `bn0_1.running_mean` -> `bn0_1.num_batches_tracked`.
            counter = key_fn(names).rsplit(".", 1)[0] + ".num_batches_tracked"
            entries.append((names[1:-1], "num_batches_tracked", (counter, np.array(0, np.int64))))
    sd = {key: value for _, _, (key, value) in sorted(entries, key=_order)}
    if complete := LAYOUTS[kind][layout].complete:
        sd = complete(hparams, sd)
    floats = np.float16 if half else np.float32
    return {k: v.astype(floats) if np.issubdtype(v.dtype, np.floating) else v for k, v in sd.items()}, layout
