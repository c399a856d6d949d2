"""The dataset types: `Example`, `PairedDataset` and the per-example items for files (`FilePair`, `HrFile`).

A `PairedDataset` is a lazy sequence of `Example`s (uint8 LR and HR, HR cropped top-left to exactly scale x LR).
Its items are small picklable objects that load one example on demand, so a dataset can be sent to grain worker
processes. `open_dataset` in `sources` builds them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from esrgan_jax.data.pairing import image_size, mod_slack
from esrgan_jax.errors import UserError
from esrgan_jax.image.io import read_uint8
from esrgan_jax.image.resize import bicubic_downscale, modcrop


class DataWarning(UserWarning):
    """Files left out of a dataset because `skip_bad=True`."""


@dataclass
class Example:
    """One training/evaluation pair.

    Attributes:
      name: the image's name (HR file stem, sample name, or tfds index).
      lr: uint8 [h, w, C], C = 1 or 3.
      hr: uint8 [h * s, w * s, C].
    """

    name: str
    lr: np.ndarray
    hr: np.ndarray


class Item(Protocol):
    """What a PairedDataset holds per example: a name, where it comes from, its LR size, and a loader."""

    name: str
    where: str

    def lr_size(self) -> tuple[int, int]: ...

    def load(self) -> Example: ...


def make_example(name: str, where: str, lr: np.ndarray, hr: np.ndarray, scale: int) -> Example:
    """Checks that HR is `scale` x LR (up to a mod-crop of the HR), crops HR top-left and matches channels.

    Raises:
      UserError: the sizes do not fit the scale; the message names `where`.
    """
    (h, w), (H, W) = lr.shape[:2], hr.shape[:2]
    slack = mod_slack(scale)
    if not (0 <= H - scale * h < slack and 0 <= W - scale * w < slack):
        raise UserError(f"{where}: HR {W}x{H} is not {scale} x LR {w}x{h} (mismatched scale)")
    hr = hr[: scale * h, : scale * w]
    if lr.shape[-1] != hr.shape[-1]:  # a gray file paired with a colour one
        lr, hr = (np.repeat(a, 3, axis=-1) if a.shape[-1] == 1 else a for a in (lr, hr))
    return Example(name, np.ascontiguousarray(lr), np.ascontiguousarray(hr))


@dataclass(frozen=True)
class FilePair:
    """An LR file and an HR file; np.rot90(lr, rotation) is aligned with the HR."""

    lr_path: Path
    hr_path: Path
    scale: int
    rotation: int = 0

    @property
    def name(self) -> str:
        return self.hr_path.stem

    @property
    def where(self) -> str:
        return f"{self.lr_path} / {self.hr_path}"

    def lr_size(self) -> tuple[int, int]:
        h, w = image_size(self.lr_path)
        return (w, h) if self.rotation % 2 else (h, w)

    def load(self) -> Example:
        lr = np.rot90(read_uint8(self.lr_path), self.rotation)
        return make_example(self.name, self.where, lr, read_uint8(self.hr_path), self.scale)


@dataclass(frozen=True)
class HrFile:
    """An HR file whose LR is made on the fly: MATLAB bicubic of the HR cropped to a multiple of the scale."""

    hr_path: Path
    scale: int

    @property
    def name(self) -> str:
        return self.hr_path.stem

    @property
    def where(self) -> str:
        return str(self.hr_path)

    def lr_size(self) -> tuple[int, int]:
        h, w = image_size(self.hr_path)
        return h // self.scale, w // self.scale

    def load(self) -> Example:
        hr = modcrop(read_uint8(self.hr_path), self.scale)
        return Example(self.name, bicubic_downscale(hr, self.scale), hr)


class PairedDataset(Sequence):
    """A lazy, picklable sequence of `Example`s.

    Attributes:
      name: display name (the folder's base name, 'samples', or the tfds name).
      scale: the SR scale.
      items: one `Item` per example.
      skip_bad: whether loaders should skip bad examples (with a warning) instead of raising.
      cheap_sizes: whether `lr_size` reads only headers (False for tfds, which must decode).
    """

    def __init__(
        self, name: str, scale: int, items: Sequence[Item], *, skip_bad: bool = False, cheap_sizes: bool = True
    ):
        if len(items) == 0:
            raise UserError(f"{name}: the dataset has no usable images")
        self.name, self.scale, self.items = name, scale, items
        self.skip_bad, self.cheap_sizes = skip_bad, cheap_sizes
        self.usable_cache: dict = {}  # the training pipeline's size checks, per (lr_patch, resize_mode)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Example:
        return self.items[i].load()

    def lr_size(self, i: int) -> tuple[int, int]:
        """(height, width) of example i's LR."""
        return self.items[i].lr_size()

    def where(self, i: int) -> str:
        """The file(s) or record example i comes from, for messages."""
        return self.items[i].where

    def __repr__(self) -> str:
        return f"PairedDataset({self.name!r}, x{self.scale}, {len(self)} examples)"


def drop_bad(problems: list[str], what: str, skip_bad: bool) -> None:
    """Raises a one-line UserError for the first problem, or (skip_bad) warns with the count and the names."""
    if not problems:
        return
    if not skip_bad:
        n = len(problems) - 1
        more = f" (and {n} more problem{'s' if n > 1 else ''})" if n else ""
        raise UserError(f"{problems[0]}{more}; use skip_bad to leave bad files out")
    shown = "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
    warnings.warn(f"{what}: skipped {len(problems)} bad file(s): {shown}", DataWarning, stacklevel=3)


_WARNED: set[str] = set()


def warn_bad(index: int, message: str) -> None:
    """Warns once per process about an example skipped while loading (skip_bad), with a running count."""
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(f"skipped example {index} ({len(_WARNED)} so far in this process): {message}", DataWarning, 2)
