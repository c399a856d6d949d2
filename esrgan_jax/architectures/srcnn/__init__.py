"""SRCNN, the baseline: its record. The Flax module is `esrgan_jax.models.srcnn`; `torch_keys` reads and spells
its `conv1..3` keys. It refines a bicubic upsampling (the module's `pre_upsample`), so its scale is not in the
weights."""

from esrgan_jax.architectures.record import Architecture, Layout
from esrgan_jax.architectures.srcnn import torch_keys
from esrgan_jax.models.srcnn import SRCNN

ARCHITECTURE = Architecture(
    kind="srcnn",
    module=SRCNN,
    generator=True,
    trunk=None,  # three convs: trained whole (configs/srcnn.py), never trunk-only
    detect=torch_keys.detect,
    convert=torch_keys.convert,
    scale_in_weights=False,
    layouts={"srcnn": Layout(lambda hparams: torch_keys.key_fn, None)},
)
