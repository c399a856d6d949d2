"""Data: image I/O, MATLAB-compatible bicubic resize, paired/HR-only/tfds/sample datasets and training batches."""

from esrgan_jax.data.dataset import DataWarning, Example, PairedDataset
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
from esrgan_jax.data.pairing import PairingReport, pair_folders
from esrgan_jax.data.pipeline import steps_per_epoch, train_batches
from esrgan_jax.data.resize import bicubic_downscale, bicubic_upscale, imresize, modcrop
from esrgan_jax.data.samples import open_samples
from esrgan_jax.data.sources import open_dataset, open_hr_folder, open_paired_folders

__all__ = [
    "IMAGE_EXTENSIONS",
    "DataWarning",
    "Example",
    "PairedDataset",
    "PairingReport",
    "open_dataset",
    "open_hr_folder",
    "open_paired_folders",
    "open_samples",
    "pair_folders",
    "steps_per_epoch",
    "train_batches",
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
