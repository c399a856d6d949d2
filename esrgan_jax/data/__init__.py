"""Data: image I/O, MATLAB-compatible bicubic resize, paired/HR-only/tfds/sample datasets and training batches."""

from esrgan_jax.data.imageio import (
    IMAGE_EXTENSIONS,
    ImageInfo,
    ImageReadError,
    convert_mode,
    list_images,
    read_image,
    read_raw,
    read_uint8,
    to_uint8,
    write_image,
)
from esrgan_jax.data.resize import bicubic_downscale, bicubic_upscale, imresize, modcrop

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
    "read_image",
    "read_raw",
    "read_uint8",
    "to_uint8",
    "write_image",
]
