"""The names spandrel's architecture registry imports (LaMa, RestoreFormer); ESRGAN never calls them."""

import enum


class InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


def rotate(*args, **kwargs):
    raise NotImplementedError("torchvision stand-in of the tests")


def normalize(*args, **kwargs):
    raise NotImplementedError("torchvision stand-in of the tests")
