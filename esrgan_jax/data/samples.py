"""The built-in `samples` dataset: natural colour images that scikit-image ships inside its wheel.

These files sit in `skimage.data.data_dir` after `pip install scikit-image`, so they are read straight from there
(never through `skimage.data`'s pooch fetcher, which may download). HR is each image cropped top-left to a
multiple of the scale; LR is its MATLAB bicubic downscale, computed once per process and kept in memory. The
split is fixed: 'val' = chelsea and coffee, 'train' = the other six; no split means all eight.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from esrgan_jax.data.dataset import Example, PairedDataset
from esrgan_jax.data.pairing import image_size
from esrgan_jax.errors import UserError
from esrgan_jax.image.io import read_uint8
from esrgan_jax.image.resize import bicubic_downscale, modcrop

# name -> file in skimage.data.data_dir (all RGB; sizes are width x height).
SAMPLE_FILES = {
    "astronaut": "astronaut.png",  # 512x512
    "rocket": "rocket.jpg",  # 640x427
    "motorcycle": "motorcycle_left.png",  # 741x500, left view of the stereo pair
    "immunohistochemistry": "ihc.png",  # 512x512
    "hubble_deep_field": "hubble_deep_field.jpg",  # 1000x872
    "retina": "retina.jpg",  # 1411x1411
    "chelsea": "chelsea.png",  # 451x300
    "coffee": "coffee.png",  # 600x400
}
SPLITS = {
    "val": ("chelsea", "coffee"),
    "train": ("astronaut", "rocket", "motorcycle", "immunohistochemistry", "hubble_deep_field", "retina"),
}
_CACHE: dict[tuple[str, int], Example] = {}


def samples_dir() -> Path:
    """The folder with scikit-image's bundled images (imported lazily: skimage.data is slow to import)."""
    import skimage.data

    return Path(skimage.data.data_dir)


@dataclass(frozen=True)
class SampleItem:
    """One bundled image; the LR is computed on first use and cached per process."""

    name: str
    path: Path
    scale: int

    @property
    def where(self) -> str:
        return f"samples:{self.name} ({self.path})"

    def lr_size(self) -> tuple[int, int]:
        h, w = image_size(self.path)
        return h // self.scale, w // self.scale

    def load(self) -> Example:
        key = (self.name, self.scale)
        if key not in _CACHE:
            hr = modcrop(read_uint8(self.path), self.scale)
            _CACHE[key] = Example(self.name, bicubic_downscale(hr, self.scale), hr)
        ex = _CACHE[key]
        return Example(ex.name, ex.lr, ex.hr)  # a new Example so callers cannot swap the cached arrays out


def open_samples(scale: int = 4, split: str | None = None) -> PairedDataset:
    """The `samples` dataset.

    Args:
      scale: SR scale.
      split: 'train', 'val', or None for all eight images.

    Returns:
      A PairedDataset named 'samples' (its examples in the split's order).

    Raises:
      UserError: unknown split, or scikit-image's bundled files are missing.
    """
    if split is not None and split not in SPLITS:
        raise UserError(f"samples: unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    names = SPLITS[split] if split else SPLITS["train"] + SPLITS["val"]
    folder = samples_dir()
    missing = [SAMPLE_FILES[n] for n in names if not (folder / SAMPLE_FILES[n]).is_file()]
    if missing:
        raise UserError(f"{folder}: scikit-image's bundled images {', '.join(missing)} are missing")
    items = [SampleItem(n, folder / SAMPLE_FILES[n], scale) for n in names]
    return PairedDataset("samples", scale, items)


def sample_image(name: str) -> np.ndarray:
    """One bundled image as uint8 [H, W, 3] (for demos and tests)."""
    if name not in SAMPLE_FILES:
        raise UserError(f"samples: unknown image {name!r} (expected one of {', '.join(SAMPLE_FILES)})")
    return read_uint8(samples_dir() / SAMPLE_FILES[name])
