"""`tfds:NAME[:SPLIT]` datasets (e.g. div2k/bicubic_x4) read through `tfds.data_source`, without TensorFlow.

A tfds data source gives random access to an array_record dataset already prepared in the tfds data dir
(`TFDS_DATA_DIR`, default ~/tensorflow_datasets); reading needs no TensorFlow, but preparing one (`tfds build
NAME --file_format=array_record`) does, once, on any machine. The dataset must have image features `lr` and `hr`.
Examples are fetched one index at a time: the data source's batched `__getitems__` is broken under
`tfds.testing.mock_data`. A record whose HR is not `scale` x its LR (up to a mod-crop) is an error naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from esrgan_jax.data.dataset import Example, PairedDataset, make_example
from esrgan_jax.errors import UserError


def _as_hwc_uint8(a: Any, where: str, key: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[..., None]
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[-1] not in (1, 3):
        raise UserError(f"{where}: feature {key!r} is {a.dtype} {a.shape}, expected uint8 [H, W, 1 or 3]")
    return a


@dataclass(frozen=True)
class TfdsItem:
    """Record `index` of a tfds data source."""

    source: Any
    dataset: str
    split: str
    index: int
    scale: int

    @property
    def name(self) -> str:
        return f"{self.split}_{self.index:05d}"

    @property
    def where(self) -> str:
        return f"tfds:{self.dataset}:{self.split}[{self.index}]"

    def _record(self) -> dict:
        try:
            return self.source[self.index]
        except Exception as e:  # array_record/decoding failures: one line naming the record
            raise UserError(f"{self.where}: cannot read record ({type(e).__name__}: {e})") from None

    def lr_size(self) -> tuple[int, int]:
        return _as_hwc_uint8(self._record()["lr"], self.where, "lr").shape[:2]

    def load(self) -> Example:
        record = self._record()
        lr = _as_hwc_uint8(record["lr"], self.where, "lr")
        hr = _as_hwc_uint8(record["hr"], self.where, "hr")
        return make_example(self.name, self.where, lr, hr, self.scale)


class TfdsItems(Sequence):
    """The items of a tfds split, made on demand (a split can hold many records)."""

    def __init__(self, source: Any, dataset: str, split: str, scale: int):
        self.source, self.dataset, self.split, self.scale = source, dataset, split, scale

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> TfdsItem:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return TfdsItem(self.source, self.dataset, self.split, i % len(self), self.scale)


def open_tfds(
    spec: str, scale: int = 4, split: str | None = None, *, skip_bad: bool = False, data_dir: str | None = None
) -> PairedDataset:
    """Opens `NAME[:SPLIT]` (the part after 'tfds:') as a PairedDataset.

    Args:
      spec: tfds name with optional split, e.g. 'div2k/bicubic_x4:validation'.
      scale: SR scale the records must have.
      split: split when `spec` names none (default 'train').
      skip_bad: let the training pipeline skip bad records with a warning instead of stopping.
      data_dir: tfds data dir (default: TFDS_DATA_DIR or ~/tensorflow_datasets).

    Returns:
      A PairedDataset named NAME; example names are '<split>_<index>'.

    Raises:
      UserError: the dataset is not prepared (or not array_record), or has no `lr`/`hr` features.
    """
    import tensorflow_datasets as tfds  # slow import, only when a tfds source is used

    name, _, spec_split = spec.partition(":")
    split = spec_split or split or "train"
    where = f"tfds:{name}:{split}"
    try:
        source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    except Exception as e:  # tfds raises many types here (not found, wrong format, bad split)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(
            f"{where}: cannot open ({first}); prepare it once with "
            f"`tfds build {name} --file_format=array_record` (needs TensorFlow) or set TFDS_DATA_DIR"
        ) from None
    features = getattr(getattr(source, "dataset_info", None), "features", None)
    if features is not None and not {"lr", "hr"} <= set(features.keys()):
        raise UserError(f"{where}: has features {sorted(features.keys())}, expected 'lr' and 'hr'")
    return PairedDataset(name, scale, TfdsItems(source, name, split, scale), skip_bad=skip_bad, cheap_sizes=False)
