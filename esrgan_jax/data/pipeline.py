"""Training batches from a PairedDataset: paired random crops, flips/rotations, batching, epochs, sharding.

Every batch is a pure function of (seed, step, shard): sample g of the global stream (batch t of shard k holds
g = (t * shard_count + k) * batch_size + b) is position g % n of permutation g // n of the n usable images, and
its crop and augmentation come from a generator seeded with (seed, g). So results do not depend on the number of
workers or on where a run was resumed: `start_step` skips ahead exactly, without touching the skipped samples.
An epoch is max(1, n // (batch_size * shard_count)) steps; tiny datasets such as `samples` repeat images within
a batch (with different crops). Loading runs through grain: in threads for num_workers=0, in worker processes
otherwise (the same per-sample function, so the batches are identical).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from esrgan_jax.data.dataset import PairedDataset, drop_bad, warn_bad
from esrgan_jax.errors import UserError
from esrgan_jax.image.resize import imresize

RESIZE_MODES = ("crop", "fixed")

FIXED_LR_SIZE = 64  # LR side of resize_mode "fixed" (64x64 LR / 256x256 HR at x4)


def usable_indices(dataset: PairedDataset, lr_patch: int = 32, resize_mode: str = "crop") -> np.ndarray:
    """Indices of the examples large enough for `lr_patch` (checked from headers where that is cheap).

    Raises:
      UserError: an LR smaller than the patch, unless the dataset was opened with skip_bad (then a warning).
    """
    key = (lr_patch, resize_mode)
    if key not in dataset.usable_cache:
        keep, problems = [], []
        for i in range(len(dataset)):
            if resize_mode == "crop" and dataset.cheap_sizes:
                h, w = dataset.lr_size(i)
                if h < lr_patch or w < lr_patch:
                    problems.append(f"{dataset.where(i)}: LR {w}x{h} is smaller than the {lr_patch}x{lr_patch} patch")
                    continue
            keep.append(i)
        drop_bad(problems, dataset.name, dataset.skip_bad)
        if not keep:
            raise UserError(f"{dataset.name}: no image is large enough for a {lr_patch}x{lr_patch} LR patch")
        dataset.usable_cache[key] = np.asarray(keep, np.int64)
    return dataset.usable_cache[key]


def steps_per_epoch(
    dataset: PairedDataset, batch_size: int, *, lr_patch: int = 32, resize_mode: str = "crop", shard_count: int = 1
) -> int:
    """Steps in one epoch of one shard: max(1, usable images // (batch_size * shard_count))."""
    return max(1, len(usable_indices(dataset, lr_patch, resize_mode)) // (batch_size * shard_count))


@lru_cache(maxsize=8)
def _permutation(seed: int, rep: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, rep, 0x5EED]).permutation(n)


@dataclass(frozen=True)
class SampleFn:
    """Turns the index of a sample in this shard's stream into uint8 LR/HR patches (picklable, for workers)."""

    dataset: PairedDataset
    usable: np.ndarray
    seed: int
    batch_size: int
    shard_index: int
    shard_count: int
    lr_patch: int
    augment: bool
    resize_mode: str
    fixed_size: int

    def global_sample(self, m: int) -> int:
        t, b = divmod(m, self.batch_size)
        return (t * self.shard_count + self.shard_index) * self.batch_size + b

    def _load(self, g: int):
        n = len(self.usable)
        rep, pos = divmod(g, n)
        perm = _permutation(self.seed, rep, n)
        for attempt in range(n):  # with skip_bad, a bad example is replaced by the next one in the permutation
            i = int(self.usable[perm[(pos + attempt) % n]])
            try:
                ex = self.dataset[i]
                h, w = ex.lr.shape[:2]
                if self.resize_mode == "crop" and (h < self.lr_patch or w < self.lr_patch):
                    p = self.lr_patch
                    raise UserError(f"{self.dataset.where(i)}: LR {w}x{h} is smaller than the {p}x{p} patch")
                return ex
            except UserError as e:
                if not self.dataset.skip_bad:
                    raise
                warn_bad(i, str(e))
        raise UserError(f"{self.dataset.name}: no example could be loaded")

    def __call__(self, m: int) -> dict[str, np.ndarray]:
        g = self.global_sample(m)
        ex = self._load(g)
        rng = np.random.default_rng([self.seed, g])
        s = self.dataset.scale
        if self.resize_mode == "fixed":
            lr = imresize(ex.lr, output_shape=(self.fixed_size, self.fixed_size))
            hr = imresize(ex.hr, output_shape=(self.fixed_size * s, self.fixed_size * s))
        else:
            p = self.lr_patch
            y = int(rng.integers(0, ex.lr.shape[0] - p + 1))
            x = int(rng.integers(0, ex.lr.shape[1] - p + 1))
            lr, hr = ex.lr[y : y + p, x : x + p], ex.hr[y * s : (y + p) * s, x * s : (x + p) * s]
        if self.augment:  # one of the 8 flips/rotations, the same for LR and HR
            k, flip = int(rng.integers(4)), bool(rng.integers(2))
            lr, hr = np.rot90(lr, k), np.rot90(hr, k)
            if flip:
                lr, hr = lr[:, ::-1], hr[:, ::-1]
        if lr.shape[-1] == 1:  # gray images train as three equal channels
            lr, hr = np.repeat(lr, 3, axis=-1), np.repeat(hr, 3, axis=-1)
        return {"lr": np.ascontiguousarray(lr), "hr": np.ascontiguousarray(hr)}


def _check_args(dataset: PairedDataset, batch_size: int, lr_patch: int, resize_mode: str, shard: tuple[int, int]):
    if resize_mode not in RESIZE_MODES:
        raise UserError(f"resize_mode must be one of {', '.join(RESIZE_MODES)}, got {resize_mode!r}")
    if batch_size < 1 or lr_patch < 1:
        raise UserError(f"batch_size and lr_patch must be positive, got {batch_size} and {lr_patch}")
    if not 0 <= shard[0] < shard[1]:
        raise UserError(f"shard_index must be in [0, shard_count), got {shard[0]} of {shard[1]}")
    if not len(dataset):
        raise UserError(f"{dataset.name}: empty dataset")


def train_batches(
    dataset: PairedDataset,
    *,
    lr_patch: int = 32,
    batch_size: int,
    seed: int,
    epochs: int | None,
    augment: bool = True,
    num_workers: int = 0,
    start_step: int = 0,
    resize_mode: str = "crop",
    shard_index: int = 0,
    shard_count: int = 1,
    fixed_size: int = FIXED_LR_SIZE,
) -> Iterator[dict[str, np.ndarray]]:
    """Yields training batches; see the module docstring for how they are drawn.

    Args:
      dataset: the training PairedDataset (bad examples are skipped with a warning if it was opened with skip_bad).
      lr_patch: LR patch size p in 'crop' mode; the HR patch is p * scale.
      batch_size: examples per batch on this shard (host).
      seed: the seed every batch is a function of.
      epochs: number of epochs (see `steps_per_epoch`), or None to run forever.
      augment: random horizontal flip and 90-degree rotation (one of 8), the same for LR and HR.
      num_workers: grain worker processes; 0 loads in threads of this process. The batches are the same.
      start_step: the first step to yield; batches are exactly those an uninterrupted run yields from there.
      resize_mode: 'crop' (random paired crops) or 'fixed' (the simple mode: the whole LR resized to
        fixed_size x fixed_size and the whole HR to fixed_size * scale, with the MATLAB bicubic).
      shard_index: this host's shard in [0, shard_count).
      shard_count: number of hosts; each sees a disjoint part of every global batch.
      fixed_size: LR size in 'fixed' mode.

    Yields:
      {"lr": float32 [B, p, p, 3], "hr": float32 [B, p * s, p * s, 3]} in [0, 1] (p = fixed_size when 'fixed').

    Raises:
      UserError: bad arguments, images smaller than the patch, unreadable files (unless skip_bad).
    """
    _check_args(dataset, batch_size, lr_patch, resize_mode, (shard_index, shard_count))
    usable = usable_indices(dataset, lr_patch, resize_mode)
    steps = steps_per_epoch(dataset, batch_size, lr_patch=lr_patch, resize_mode=resize_mode, shard_count=shard_count)
    stop = sys.maxsize // (2 * batch_size * shard_count) if epochs is None else epochs * steps
    if start_step >= stop:
        return
    fn = SampleFn(
        dataset, usable, seed, batch_size, shard_index, shard_count, lr_patch, augment, resize_mode, fixed_size
    )
    yield from _grain_batches(fn, start_step * batch_size, stop * batch_size, batch_size, num_workers)


def _grain_batches(fn: SampleFn, start: int, stop: int, batch_size: int, num_workers: int) -> Iterator[dict]:
    import grain  # imported here: only training needs it

    # A small prefetch buffer: grain's default (500 elements ahead) would decode hundreds of batches up front.
    read = grain.ReadOptions(num_threads=2 if num_workers == 0 else 1, prefetch_buffer_size=2)
    ds = grain.MapDataset.range(start, stop).map(fn).batch(batch_size).to_iter_dataset(read)
    if num_workers > 0:
        from absl import flags

        if not flags.FLAGS.is_parsed():  # grain's worker processes read absl flags; outside absl.app.run
            flags.FLAGS.mark_as_parsed()
        ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=num_workers, per_worker_buffer_size=2))
    it = iter(ds)
    try:
        for batch in it:
            yield {k: v.astype(np.float32) / np.float32(255) for k, v in batch.items()}
    except UserError as e:  # grain appends a note on traceback filtering; CLI errors must stay one line
        raise type(e)(str(e).split("\n--------------------")[0]) from None
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()  # stops worker processes promptly when the consumer stops early
