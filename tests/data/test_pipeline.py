"""Training batches: paired crops, augmentation, determinism, exact resume, sharding, workers, bad images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from esrgan_jax.data.dataset import DataWarning, Example, PairedDataset
from esrgan_jax.data.pipeline import steps_per_epoch, train_batches
from esrgan_jax.data.sources import open_dataset
from esrgan_jax.errors import UserError
from esrgan_jax.image.io import write_image
from esrgan_jax.image.resize import bicubic_downscale, imresize

S = 4


@dataclass(frozen=True)
class CodedItem:
    """LR pixel (y, x) holds (y, x, id); HR pixel (Y, X) holds (Y // 4, X // 4, id): HR[::4, ::4] == LR for any
    aligned crop, and the channel gradients reveal which flip/rotation was applied."""

    id: int
    h: int
    w: int
    bad: bool = False

    @property
    def name(self) -> str:
        return f"coded{self.id}"

    @property
    def where(self) -> str:
        return f"mem:{self.name}"

    def lr_size(self) -> tuple[int, int]:
        return self.h, self.w

    def load(self) -> Example:
        if self.bad:
            raise UserError(f"{self.where}: cannot read image (broken)")
        y, x = np.mgrid[: self.h, : self.w]
        lr = np.stack([y, x, np.full_like(y, self.id)], -1).astype(np.uint8)
        return Example(self.name, lr, np.repeat(np.repeat(lr, S, 0), S, 1))


def _coded(n: int, h: int = 40, w: int = 48, **kw) -> PairedDataset:
    return PairedDataset("coded", S, [CodedItem(i, h + i, w) for i in range(n)], **kw)


def _u8(a: np.ndarray) -> np.ndarray:
    return np.round(a * 255).astype(np.int64)


def test_paired_crops_and_all_eight_augmentations():
    ds = _coded(8)
    transforms, origins = set(), set()
    batches = list(train_batches(ds, lr_patch=16, batch_size=4, seed=0, epochs=8))
    assert len(batches) == 8 * steps_per_epoch(ds, 4, lr_patch=16) == 16
    for b in batches:
        assert b["lr"].shape == (4, 16, 16, 3) and b["hr"].shape == (4, 64, 64, 3) and b["lr"].dtype == np.float32
        lr, hr = _u8(b["lr"]), _u8(b["hr"])
        np.testing.assert_array_equal(hr[:, ::S, ::S], lr)
        np.testing.assert_array_equal(hr[:, S - 1 :: S, S - 1 :: S], lr)  # blocks stay aligned
        for p in lr:
            dy, dx = p[1, 0, :2] - p[0, 0, :2], p[0, 1, :2] - p[0, 0, :2]
            transforms.add((tuple(dy), tuple(dx)))
            origins.add((p[..., 0].min(), p[..., 1].min()))
    assert len(transforms) == 8  # the dihedral group: every flip/rotation occurs
    assert len(origins) > 40  # random crop positions


def test_epochs_visit_every_image_once_and_seed_determines_everything():
    ds = _coded(12)
    run = list(train_batches(ds, lr_patch=8, batch_size=3, seed=7, epochs=2, augment=False))
    ids = [int(i) for b in run for i in _u8(b["lr"])[:, 0, 0, 2]]
    assert len(ids) == 24 and sorted(ids[:12]) == list(range(12)) and sorted(ids[12:]) == list(range(12))
    assert ids[:12] != ids[12:]  # reshuffled each epoch
    again = list(train_batches(ds, lr_patch=8, batch_size=3, seed=7, epochs=2, augment=False))
    assert all(np.array_equal(a["hr"], b["hr"]) for a, b in zip(run, again, strict=True))
    other = list(train_batches(ds, lr_patch=8, batch_size=3, seed=8, epochs=2, augment=False))
    assert not all(np.array_equal(a["lr"], b["lr"]) for a, b in zip(run, other, strict=True))


def test_start_step_resumes_exactly_and_epochs_none_runs_on():
    ds = _coded(5)
    full = list(train_batches(ds, lr_patch=8, batch_size=2, seed=3, epochs=4))
    assert len(full) == 8  # 5 // 2 = 2 steps per epoch
    resumed = list(train_batches(ds, lr_patch=8, batch_size=2, seed=3, epochs=4, start_step=5))
    assert len(resumed) == 3
    for a, b in zip(full[5:], resumed, strict=True):
        np.testing.assert_array_equal(a["lr"], b["lr"])
        np.testing.assert_array_equal(a["hr"], b["hr"])
    forever = train_batches(ds, lr_patch=8, batch_size=2, seed=3, epochs=None)
    head = [next(forever) for _ in range(10)]
    np.testing.assert_array_equal(head[7]["hr"], full[7]["hr"])
    forever.close()


def test_tiny_dataset_repeats_images_within_a_batch():
    ds = _coded(3)
    (batch,) = train_batches(ds, lr_patch=8, batch_size=7, seed=0, epochs=1)
    ids = _u8(batch["lr"])[:, 0, 0, 2]
    assert sorted(ids[:6]) == [0, 0, 1, 1, 2, 2]  # two full permutations, then the next one begins


def test_shards_split_the_global_batch():
    ds = _coded(16)
    single = list(train_batches(ds, lr_patch=8, batch_size=4, seed=1, epochs=2))
    shards = [
        list(train_batches(ds, lr_patch=8, batch_size=2, seed=1, epochs=2, shard_index=k, shard_count=2))
        for k in (0, 1)
    ]
    assert len(single) == len(shards[0]) == len(shards[1]) == 8
    for t, whole in enumerate(single):
        np.testing.assert_array_equal(whole["hr"], np.concatenate([shards[0][t]["hr"], shards[1][t]["hr"]]))


def test_fixed_mode_resizes_whole_images():
    ds = _coded(2, h=50, w=30)
    (batch,) = train_batches(ds, batch_size=2, seed=0, epochs=1, augment=False, resize_mode="fixed")
    assert batch["lr"].shape == (2, 64, 64, 3) and batch["hr"].shape == (2, 256, 256, 3)
    for lr, hr in zip(_u8(batch["lr"]), _u8(batch["hr"]), strict=True):
        ex = ds[int(lr[0, 0, 2])]
        np.testing.assert_array_equal(lr, imresize(ex.lr, output_shape=(64, 64)))
        np.testing.assert_array_equal(hr, imresize(ex.hr, output_shape=(256, 256)))


def test_gray_images_become_three_channels(tmp_path):
    rng = np.random.default_rng(0)
    write_image(tmp_path / "g.png", rng.integers(0, 256, (64, 64)).astype(np.uint8))
    (batch,) = train_batches(open_dataset(str(tmp_path)), lr_patch=8, batch_size=1, seed=0, epochs=1)
    assert batch["lr"].shape == (1, 8, 8, 3)
    np.testing.assert_array_equal(batch["hr"][..., 0], batch["hr"][..., 2])


def test_too_small_and_bad_images(tmp_path):
    write_image(tmp_path / "big.png", np.zeros((160, 160, 3), np.uint8))
    write_image(tmp_path / "small.png", np.zeros((100, 160, 3), np.uint8))
    with pytest.raises(UserError) as e:
        next(train_batches(open_dataset(str(tmp_path)), batch_size=1, seed=0, epochs=1))
    assert str(e.value) == (
        f"{tmp_path / 'small.png'}: LR 40x25 is smaller than the 32x32 patch; use skip_bad to leave bad files out"
    )
    with pytest.warns(DataWarning, match=r"coded: skipped 1 bad file\(s\): mem:coded1: LR 20x20 is smaller"):
        ds = PairedDataset("coded", S, [CodedItem(0, 40, 40), CodedItem(1, 20, 20)], skip_bad=True)
        assert len(list(train_batches(ds, batch_size=1, seed=0, epochs=3))) == 3
    # Sources without cheap sizes (tfds) find bad records while loading: error, or replaced with a warning.
    items = [CodedItem(0, 40, 40), CodedItem(1, 40, 40, bad=True), CodedItem(2, 40, 40)]
    with pytest.raises(UserError, match=r"^mem:coded1: cannot read image \(broken\)$"):
        list(train_batches(PairedDataset("lazy", S, items, cheap_sizes=False), batch_size=3, seed=0, epochs=1))
    lazy = PairedDataset("lazy", S, items, cheap_sizes=False, skip_bad=True)
    with pytest.warns(DataWarning, match=r"skipped example 1 .*: mem:coded1: cannot read image"):
        (batch,) = train_batches(lazy, batch_size=3, seed=0, epochs=1, augment=False)
    assert 1 not in _u8(batch["lr"])[:, 0, 0, 2]


def test_bad_arguments():
    ds = _coded(2)
    for kwargs, msg in [
        ({"resize_mode": "stretch"}, "resize_mode must be one of crop, fixed, got 'stretch'"),
        ({"shard_index": 2, "shard_count": 2}, r"shard_index must be in \[0, shard_count\), got 2 of 2"),
        ({"lr_patch": 64}, r"mem:coded0: LR 48x40 is smaller than the 64x64 patch \(and 1 more problem\)"),
    ]:
        with pytest.raises(UserError, match=msg):
            next(train_batches(ds, batch_size=1, seed=0, epochs=1, **{"lr_patch": 8, **kwargs}))
    with pytest.raises(UserError, match="coded: no image is large enough for a 64x64 LR patch"):
        with pytest.warns(DataWarning, match="skipped 2 bad file"):
            next(train_batches(_coded(2, skip_bad=True), lr_patch=64, batch_size=1, seed=0, epochs=1))


def test_grain_worker_process_gives_the_same_batches(tmp_path):
    # One worker process (they take a few seconds to start); the sample function is the same as in-process.
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(tmp_path / f"{i}.png", rng.integers(0, 256, (48 + 8 * i, 40, 3)).astype(np.uint8))
    ds = open_dataset(str(tmp_path))
    kwargs = {"lr_patch": 8, "batch_size": 2, "seed": 5, "epochs": 2}
    local = list(train_batches(ds, **kwargs))
    remote = list(train_batches(ds, num_workers=1, **kwargs))
    assert len(local) == len(remote) == 2
    for a, b in zip(local, remote, strict=True):
        np.testing.assert_array_equal(a["lr"], b["lr"])
        np.testing.assert_array_equal(a["hr"], b["hr"])
    lr0 = _u8(local[0]["lr"][0])
    assert any(  # the patch really comes from one of the LR images (downscaled files)
        any(
            np.array_equal(np.rot90(lr0, k)[:, ::f], bicubic_downscale(ds[i].hr, 4)[y : y + 8, x : x + 8])
            for y in range(ds[i].lr.shape[0] - 7)
            for x in range(ds[i].lr.shape[1] - 7)
            for k in range(4)
            for f in (1, -1)
        )
        for i in range(3)
    )
