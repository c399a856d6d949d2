"""open_dataset: EDSR folders, LRDIR:HRDIR, HR-only folders, samples and tfds, with their errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import skimage.data
import tensorflow_datasets as tfds
from PIL import Image

from esrgan_jax.data.sources import DataWarning, open_dataset
from esrgan_jax.data.tfds_source import open_tfds
from esrgan_jax.errors import UserError
from esrgan_jax.image.io import read_uint8, write_image
from esrgan_jax.image.resize import imresize
from tests.support import SHARED_DATA as SHARED


def _downscale_ref(hr: np.ndarray, s: int) -> np.ndarray:
    h, w = hr.shape[0] // s * s, hr.shape[1] // s * s
    return imresize(hr[:h, :w], output_shape=(h // s, w // s))


@pytest.mark.skipif(not (SHARED / "benchmarks").is_dir(), reason=f"benchmark data not found at {SHARED}")
def test_edsr_layout_folder_gives_the_files(capsys):
    ds = open_dataset(str(SHARED / "benchmarks" / "Set14"))
    assert (ds.name, ds.scale, len(ds)) == ("Set14", 4, 14)
    comic = next(i for i in range(len(ds)) if ds[i].name == "comic")
    ex = ds[comic]
    np.testing.assert_array_equal(ex.lr, read_uint8(SHARED / "benchmarks/Set14/LR_bicubic/X4/comic.png"))
    np.testing.assert_array_equal(ex.hr, read_uint8(SHARED / "benchmarks/Set14/HR/comic.png")[:360, :248])
    assert ds.lr_size(comic) == (90, 62)
    assert "14 pairs (14 by name, 0 by content)" in capsys.readouterr().err
    bridge = ds[next(i for i in range(len(ds)) if ds.items[i].name == "bridge")]
    assert bridge.lr.shape == (128, 128, 1) and bridge.hr.shape == (512, 512, 1)


def test_lr_hr_folders_and_edsr_layout(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "MySet"
    hr = rng.integers(0, 256, (22, 19, 3)).astype(np.uint8)
    write_image(root / "HR" / "a.png", hr)
    write_image(root / "LR_bicubic" / "X4" / "ax4.png", _downscale_ref(hr, 4))
    for spec in (str(root), f"{root}/LR_bicubic/X4:{root}/HR"):
        ds = open_dataset(spec, verbose=False)
        assert ds.name == "MySet" and len(ds) == 1
        ex = ds[0]
        assert ex.name == "a"
        np.testing.assert_array_equal(ex.hr, hr[:20, :16])
        np.testing.assert_array_equal(ex.lr, _downscale_ref(hr, 4))
    assert open_dataset(str(root), scale=2, verbose=False).name == "MySet"  # no X2 folder: HR-only from HR/


def test_hr_only_folder(tmp_path):
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, (30, 41, 3)).astype(np.uint8)
    write_image(tmp_path / "photos" / "p.png", hr)
    gray = rng.integers(0, 256, (12, 12)).astype(np.uint8)
    write_image(tmp_path / "photos" / "q.bmp", gray)
    ds = open_dataset(str(tmp_path / "photos"), scale=3)
    assert (ds.name, len(ds), ds.lr_size(0)) == ("photos", 2, (10, 13))
    np.testing.assert_array_equal(ds[0].lr, _downscale_ref(hr, 3))
    np.testing.assert_array_equal(ds[0].hr, hr[:30, :39])
    assert ds[1].lr.shape == (4, 4, 1)
    assert pickle.loads(pickle.dumps(ds))[1].name == "q"


def test_exif_rotated_file_size_matches_its_pixels(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.zeros((20, 36, 3), np.uint8)).save(tmp_path / "r.jpg", exif=exif)
    ds = open_dataset(str(tmp_path), scale=4)
    assert ds.lr_size(0) == ds[0].lr.shape[:2] == (9, 5)


def test_bad_files_error_or_skip_with_warning(tmp_path):
    folder = tmp_path / "hr"
    write_image(folder / "good.png", np.zeros((16, 16, 3), np.uint8))
    write_image(folder / "tiny.png", np.zeros((3, 16, 3), np.uint8))
    (folder / "junk.png").write_bytes(b"junk")
    with pytest.raises(UserError) as e:
        open_dataset(str(folder))
    assert str(e.value).startswith(f"{folder / 'junk.png'}: is a text file, not an image (and 1 more problem)")
    assert str(e.value).endswith("(and 1 more problem); use skip_bad to leave bad files out")
    with pytest.warns(DataWarning, match=r"skipped 2 bad file\(s\): .*junk\.png.*tiny\.png: 16x3 is smaller than"):
        ds = open_dataset(str(folder), skip_bad=True)
    assert [it.name for it in ds.items] == ["good"]


def test_paired_folder_problems(tmp_path):
    rng = np.random.default_rng(2)
    hr = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    write_image(tmp_path / "HR" / "a.png", hr)
    write_image(tmp_path / "HR" / "b.png", hr[::-1])
    write_image(tmp_path / "LR" / "a.png", imresize(hr, 0.5))
    with pytest.raises(UserError, match=r"LR/a\.png / .*HR/a\.png: sizes are not x4 \(mismatched scale\)"):
        open_dataset(f"{tmp_path}/LR:{tmp_path}/HR", verbose=False)
    with pytest.raises(UserError, match=r"b\.png: no matching LR image"):
        open_dataset(f"{tmp_path}/LR:{tmp_path}/HR", scale=2, verbose=False)
    with pytest.raises(UserError, match="no usable images"), pytest.warns(DataWarning, match="skipped 2"):
        open_dataset(f"{tmp_path}/LR:{tmp_path}/HR", verbose=False, skip_bad=True)


def test_bad_specs():
    with pytest.raises(UserError) as e:
        open_dataset("no/such/folder")
    assert str(e.value) == (
        "no/such/folder: no such folder (expected a folder, LRDIR:HRDIR, 'samples' or 'tfds:NAME[:SPLIT]')"
    )
    with pytest.raises(UserError, match=r"'no_lr' is not a directory \(expected LRDIR:HRDIR\)"):
        open_dataset("no_lr:no_hr")
    with pytest.raises(UserError, match="samples: unknown split 'test'"):
        open_dataset("samples", split="test")


def test_samples_split_and_content():
    val, train = open_dataset("samples", split="val"), open_dataset("samples", split="train")
    assert [it.name for it in val.items] == ["chelsea", "coffee"]
    assert len(train) == 6 and not {it.name for it in train.items} & {"chelsea", "coffee"}
    assert len(open_dataset("samples")) == 8
    chelsea = skimage.data.chelsea()  # 300x451: HR is cropped to 300x448
    ex = val[0]
    np.testing.assert_array_equal(ex.hr, chelsea[:300, :448])
    np.testing.assert_array_equal(ex.lr, _downscale_ref(chelsea, 4))
    assert [val.lr_size(i) for i in range(2)] == [(75, 112), (100, 150)]
    for i in range(len(train)):
        h, w = train.lr_size(i)
        assert h >= 64 and w >= 64, train.items[i].name


def test_tfds_mock_records_are_validated():
    with tfds.testing.mock_data(num_examples=4, policy=tfds.testing.MockPolicy.USE_CODE):
        ds = open_dataset("tfds:div2k/bicubic_x4:validation")
        raw = tfds.data_source("div2k/bicubic_x4", split="validation")
        assert (ds.name, len(ds)) == ("div2k/bicubic_x4", 4)
        for i in range(4):  # mocked shapes are random, almost never 4x of each other
            lr, hr = raw[i]["lr"], raw[i]["hr"]
            where = f"tfds:div2k/bicubic_x4:validation[{i}]"
            fits = all(0 <= H - 4 * h < 12 for h, H in zip(lr.shape[:2], hr.shape[:2], strict=True))
            if fits:
                np.testing.assert_array_equal(ds[i].lr, lr)
            else:
                with pytest.raises(UserError) as e:
                    ds[i]
                want = f"{hr.shape[1]}x{hr.shape[0]} is not 4 x LR {lr.shape[1]}x{lr.shape[0]} (mismatched scale)"
                assert str(e.value) == f"{where}: HR {want}"
            assert ds.lr_size(i) == lr.shape[:2]


class EsrganJaxTestSr(tfds.core.GeneratorBasedBuilder):
    """A real (not mocked) array_record dataset with lr/hr image features, built without TensorFlow."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        image = tfds.features.Image(shape=(None, None, 3))
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({"lr": image, "hr": image}))

    def _split_generators(self, dl_manager):
        return {"validation": self._generate_examples()}

    def _generate_examples(self):
        for i, hr in enumerate(_tfds_hrs()):
            yield i, {"hr": _png(hr), "lr": _png(_downscale_ref(hr, 4))}


def _tfds_hrs() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [rng.integers(0, 256, s).astype(np.uint8) for s in ((16, 20, 3), (27, 13, 3))]


def _png(a: np.ndarray):
    import io

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    buf.seek(0)  # tfds encodes file objects itself; arrays would need TensorFlow to encode
    return buf


def test_tfds_array_record_dataset(tmp_path):
    EsrganJaxTestSr(data_dir=str(tmp_path), file_format="array_record").download_and_prepare()
    ds = open_tfds("esrgan_jax_test_sr:validation", 4, data_dir=str(tmp_path))
    assert (ds.name, len(ds), ds.cheap_sizes) == ("esrgan_jax_test_sr", 2, False)
    for i, hr in enumerate(_tfds_hrs()):
        ex = ds[i]
        assert ex.name == f"validation_{i:05d}"
        np.testing.assert_array_equal(ex.lr, _downscale_ref(hr, 4))
        np.testing.assert_array_equal(ex.hr, hr[: ex.lr.shape[0] * 4, : ex.lr.shape[1] * 4])
    with pytest.raises(UserError, match=r"^tfds:esrgan_jax_test_sr:test: cannot open \("):
        open_tfds("esrgan_jax_test_sr", 4, split="test", data_dir=str(tmp_path))
    with pytest.raises(UserError, match=r"tfds:div2k/bicubic_x4:train: cannot open .*--file_format=array_record"):
        open_tfds("div2k/bicubic_x4", 4, data_dir=str(tmp_path))
