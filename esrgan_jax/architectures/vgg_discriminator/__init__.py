"""BasicSR's VGG-style discriminator (ESRGAN's net_d): its record. The Flax module is
`esrgan_jax.models.discriminator`; `torch_keys` reads and spells its keys, BatchNorm statistics included."""

from esrgan_jax.architectures.record import Architecture, Layout
from esrgan_jax.architectures.vgg_discriminator import torch_keys
from esrgan_jax.models.discriminator import VGGStyleDiscriminator

ARCHITECTURE = Architecture(
    kind="vgg_discriminator",
    module=VGGStyleDiscriminator,
    detect=torch_keys.detect,
    convert=torch_keys.convert,
    layouts={"basicsr": Layout(lambda hparams: torch_keys.key_fn, "params")},  # BasicSR saves net_d under "params"
)
