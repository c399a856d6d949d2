"""`torchvision.models.vgg16` for `lpips`: the tests' torchvision-layout VGG16 with the weights a test chose."""

from collections.abc import Callable

from torch import nn

# What vgg16() returns; set by `testkit.torchvision_standin` (random or given weights).
make_vgg16: Callable[[], nn.Module] | None = None


def vgg16(pretrained: bool = False, **kwargs) -> nn.Module:
    if make_vgg16 is None:
        raise RuntimeError("torchvision stand-in: no VGG16 weights chosen (testkit.torchvision_standin)")
    return make_vgg16()
