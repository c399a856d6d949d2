"""Data sets: paired, HR-only, sample and tfds sources, content pairing, and training batches."""

from esrgan_jax.data.dataset import DataWarning, Example, PairedDataset
from esrgan_jax.data.pairing import PairingReport, pair_folders
from esrgan_jax.data.pipeline import steps_per_epoch, train_batches
from esrgan_jax.data.samples import open_samples
from esrgan_jax.data.sources import open_dataset, open_hr_folder, open_paired_folders

__all__ = [
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
]
