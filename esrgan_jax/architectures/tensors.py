"""PyTorch tensors into Flax variables: the engine every architecture's converter runs on.

A converter only says how a Flax variable path is spelled in its checkpoint layout (`key_fn`); this module
derives the expected shapes from the Flax module itself (via `jax.eval_shape`, so nothing is computed),
transposes kernels, and reports the first missing key, a shape mismatch, or unexpected keys as one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from esrgan_jax.errors import UserError

StateDict = dict[str, np.ndarray]
# (collection, module path..., leaf name) -> key in the checkpoint, e.g. ("params", "body_0", "rdb1", "conv1",
# "kernel") -> "body.0.rdb1.conv1.weight".
KeyFn = Callable[[tuple[str, ...]], str]

# Flax leaf name -> PyTorch tensor name. BatchNorm's affine weight is flax's "scale", PReLU's slopes its
# "negative_slope" (flax's own PReLU name).
TORCH_LEAF = {
    "kernel": "weight",
    "scale": "weight",
    "negative_slope": "weight",
    "bias": "bias",
    "mean": "running_mean",
    "var": "running_var",
}


class ConversionError(UserError):
    """A checkpoint cannot be converted: unknown layout, missing key, shape mismatch, unreadable file."""


def first_keys(keys: Iterable[str], n: int = 5) -> str:
    """`a, b, c, ... (N in all)`: enough of a key list to recognise a layout, on one line."""
    keys = list(keys)
    shown = ", ".join(keys[:n])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > n else shown


def require(sd: StateDict, key: str) -> np.ndarray:
    """`sd[key]`, or a ConversionError naming the missing key."""
    if key not in sd:
        raise ConversionError(f"missing key {key!r}")
    return sd[key]


def require_conv(sd: StateDict, key: str) -> np.ndarray:
    """`sd[key]` checked to be a conv weight [out, in, kh, kw] (hyper-parameters are read from its shape)."""
    value = require(sd, key)
    if value.ndim != 4:
        raise ConversionError(
            f"shape mismatch for {key!r}: expected a conv weight [out, in, kh, kw], got {value.shape}"
        )
    return value


def to_flax(leaf: str, value: np.ndarray) -> np.ndarray:
    """One PyTorch tensor in Flax layout (float32)."""
    value = np.asarray(value, dtype=np.float32)
    if leaf == "kernel" and value.ndim == 4:
        return np.ascontiguousarray(value.transpose(2, 3, 1, 0))  # [outC, inC, kH, kW] -> [kH, kW, inC, outC]
    if leaf == "kernel" and value.ndim == 2:
        return np.ascontiguousarray(value.T)  # nn.Linear [out, in] -> nn.Dense [in, out]
    return value


def torch_shape(leaf: str, flax_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The PyTorch shape whose `to_flax` has `flax_shape` (for error messages in the checkpoint's own terms)."""
    if leaf == "kernel" and len(flax_shape) == 4:
        kh, kw, cin, cout = flax_shape
        return (cout, cin, kh, kw)
    if leaf == "kernel" and len(flax_shape) == 2:
        return tuple(reversed(flax_shape))
    return tuple(flax_shape)


def expected_variables(module: nn.Module, sample_shape: tuple[int, ...]) -> dict[str, Any]:
    """The abstract variable tree (shapes only) of `module` on an input of `sample_shape`; nothing is compiled."""
    return jax.eval_shape(module.init, jax.random.key(0), jnp.zeros(sample_shape, jnp.float32))


def map_variables(
    sd: StateDict,
    module: nn.Module,
    sample_shape: tuple[int, ...],
    key_fn: KeyFn,
    ignore: Callable[[str], bool] = lambda key: False,
) -> dict[str, Any]:
    """Builds `module`'s variables from `sd`, checking that every tensor exists with the right shape.

    Args:
      sd: flat PyTorch state dict (numpy arrays).
      module: the Flax module whose variables to fill.
      sample_shape: an input shape [N, H, W, C] the module accepts (only traced, never run).
      key_fn: maps a variable path (collection, ..., leaf) to its checkpoint key.
      ignore: checkpoint keys that may be present without being used (e.g. `num_batches_tracked`).

    Returns:
      `{"params": ..., ["batch_stats": ...]}` as nested dicts of float32 numpy arrays.
    """
    abstract = expected_variables(module, sample_shape)
    used: set[str] = set()
    variables: dict[str, Any] = {}
    for path, spec in jax.tree_util.tree_flatten_with_path(abstract)[0]:
        names = tuple(p.key for p in path)
        key = key_fn(names)
        value = require(sd, key)
        want = torch_shape(names[-1], spec.shape)
        if tuple(value.shape) != want:
            raise ConversionError(f"shape mismatch for {key!r}: expected {want}, got {tuple(value.shape)}")
        node = variables
        for name in names[:-1]:
            node = node.setdefault(name, {})
        node[names[-1]] = to_flax(names[-1], value)
        used.add(key)
    unexpected = [k for k in sd if k not in used and not ignore(k)]
    if unexpected:
        raise ConversionError(f"unexpected keys for this model: {first_keys(unexpected)}")
    return variables


def param_count(variables: dict[str, Any]) -> int:
    """Number of trainable parameters (the "params" collection only)."""
    return sum(int(np.size(x)) for x in jax.tree.leaves(variables["params"]))
