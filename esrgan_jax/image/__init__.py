"""Pixel primitives below the data sets: image files, MATLAB bicubic resize, YCbCr, pixel-type conversion."""

from esrgan_jax.image.io import (
    IMAGE_EXTENSIONS,
    ImageInfo,
    ImageReadError,
    convert_mode,
    list_images,
    read_image,
    read_raw,
    read_uint8,
    write_image,
)
from esrgan_jax.image.pixels import quantize, to_float, to_uint8
from esrgan_jax.image.resize import bicubic_downscale, bicubic_upscale, imresize, modcrop

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageInfo",
    "ImageReadError",
    "bicubic_downscale",
    "bicubic_upscale",
    "convert_mode",
    "imresize",
    "list_images",
    "modcrop",
    "quantize",
    "read_image",
    "read_raw",
    "read_uint8",
    "to_float",
    "to_uint8",
    "write_image",
]
