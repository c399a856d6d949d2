"""The conversion engine as this package's converters (VGG, LPIPS, the readers and the exporter) import it.

It lives in `esrgan_jax.architectures.tensors`, beside the architecture records whose converters use it too.
"""

from esrgan_jax.architectures.tensors import (
    TORCH_LEAF,
    ConversionError,
    KeyFn,
    StateDict,
    expected_variables,
    first_keys,
    map_variables,
    param_count,
    require,
    require_conv,
    to_flax,
    torch_shape,
)

__all__ = [
    "TORCH_LEAF",
    "ConversionError",
    "KeyFn",
    "StateDict",
    "expected_variables",
    "first_keys",
    "map_variables",
    "param_count",
    "require",
    "require_conv",
    "to_flax",
    "torch_shape",
]
