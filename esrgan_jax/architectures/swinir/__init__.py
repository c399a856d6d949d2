"""SwinIR, the Swin-transformer restoration network: its record. `model` and `blocks` are the Flax module,
`torch_keys` reads the official checkpoints (every hyper-parameter from the tensors) and writes them back with the
buffers spandrel needs."""

from esrgan_jax.architectures.record import Architecture, Layout
from esrgan_jax.architectures.swinir import torch_keys
from esrgan_jax.architectures.swinir.model import SwinIR

ARCHITECTURE = Architecture(
    kind="swinir",
    module=SwinIR,
    generator=True,
    trunk=r"layers_\d+/.*",  # the residual Swin transformer blocks
    detect=torch_keys.detect,
    convert=torch_keys.convert,
    # The official releases wrap the classical and lightweight weights in "params".
    layouts={"swinir": Layout(lambda hparams: torch_keys.key_fn, "params", complete=torch_keys.complete)},
)
