"""Image I/O: every supported kind reads to the exact samples and writes back the same kind, atomically."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps

from esrgan_jax.errors import UserError
from esrgan_jax.image import formats
from esrgan_jax.image.io import ImageInfo, ImageReadError, list_images, read_image, read_uint8, write_image

RNG = np.random.default_rng(0)


def _png16(path: Path, a: np.ndarray) -> None:
    """A minimal 16-bit PNG encoder (filter 0, one IDAT), independent of the readers under test."""
    h, w, c = a.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + a[i].astype(">u2").tobytes() for i in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "ext,channels,mode",
    [
        (e, c, m)
        for e in (".png", ".bmp", ".tif")
        for c, m in ((1, "L"), (3, "RGB"), (4, "RGBA"))
        if (e, c) != (".bmp", 4)
    ],
)
def test_8bit_round_trip(tmp_path, channels, mode, ext):
    a = RNG.integers(0, 256, (7, 9, channels)).astype(np.uint8)
    src = tmp_path / f"src{ext}"
    Image.fromarray(a[..., 0] if channels == 1 else a).save(src)
    img, info = read_image(src)
    assert img.dtype == np.float32 and info == ImageInfo(8, mode, str(src))
    np.testing.assert_array_equal(img, a.astype(np.float32) / 255)
    out = tmp_path / f"out{ext}"
    write_image(out, img, info)
    back = np.asarray(Image.open(out))
    np.testing.assert_array_equal(back.reshape(a.shape), a)


@pytest.mark.parametrize("channels,mode", [(1, "L"), (2, "RGBA"), (3, "RGB"), (4, "RGBA")])
def test_16bit_png_keeps_all_bits(tmp_path, channels, mode):
    a = RNG.integers(0, 65536, (5, 6, channels)).astype(np.uint16)
    _png16(tmp_path / "a.png", a)
    img, info = read_image(tmp_path / "a.png")
    assert (info.bit_depth, info.mode) == (16, mode)
    want = np.concatenate([a[..., :1]] * 3 + [a[..., 1:]], -1) if channels == 2 else a
    np.testing.assert_array_equal(img, want.astype(np.float32) / 65535)
    np.testing.assert_array_equal(read_uint8(tmp_path / "a.png"), np.round(want[..., :3] / 257).astype(np.uint8))
    write_image(tmp_path / "b.png", img, info)
    np.testing.assert_array_equal(read_image(tmp_path / "b.png")[0], img)
    with Image.open(tmp_path / "b.png") as im:  # Pillow sees a 16-bit file (it keeps only the high byte of RGB)
        pil = np.asarray(im)
    np.testing.assert_array_equal(pil.reshape(want.shape[:2] + (-1,)), want if channels == 1 else want >> 8)


def test_16bit_tiff(tmp_path):
    a = RNG.integers(0, 65536, (5, 6, 3)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "a.tiff", a, photometric="rgb")
    img, info = read_image(tmp_path / "a.tiff")
    assert (info.bit_depth, info.mode) == (16, "RGB")
    np.testing.assert_array_equal(img, a / np.float32(65535))
    write_image(tmp_path / "b.tif", img, info)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "b.tif"), a)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_jpeg_matches_pillow_decoder(tmp_path, mode):
    a = RNG.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    Image.fromarray(a).convert(mode).save(tmp_path / "a.jpg", quality=90)
    img, info = read_image(tmp_path / "a.jpg")
    assert (info.bit_depth, info.mode) == (8, mode)
    want = np.asarray(Image.open(tmp_path / "a.jpg")).reshape(img.shape)
    np.testing.assert_array_equal(img, want / np.float32(255))


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif"])
def test_exif_orientation_like_pillow(tmp_path, orientation, ext):
    a = RNG.integers(0, 256, (6, 10, 3)).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(a).save(tmp_path / f"o{ext}", exif=exif)
    want = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / f"o{ext}")))
    got = read_uint8(tmp_path / f"o{ext}")
    assert got.shape == ((6, 10, 3) if orientation < 5 else (10, 6, 3))
    np.testing.assert_array_equal(got, want)


def test_palette_and_gray_alpha_become_rgb_or_rgba(tmp_path):
    a = RNG.integers(0, 256, (4, 5, 3)).astype(np.uint8)
    Image.fromarray(a).convert("P").save(tmp_path / "p.png")
    np.testing.assert_array_equal(
        read_uint8(tmp_path / "p.png"), np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))
    )
    Image.fromarray(a[..., :2], "LA").save(tmp_path / "la.png")
    img, info = read_image(tmp_path / "la.png")
    assert info.mode == "RGBA"
    np.testing.assert_array_equal(img[..., 3], a[..., 1] / np.float32(255))


def test_write_converts_to_info_mode_and_clips(tmp_path):
    gray = RNG.random((4, 5, 1)).astype(np.float32)
    write_image(tmp_path / "g.png", np.repeat(gray, 3, -1), ImageInfo(8, "L"))
    with Image.open(tmp_path / "g.png") as im:
        assert im.mode == "L"
        np.testing.assert_array_equal(np.asarray(im), np.round(gray[..., 0] * 255).astype(np.uint8))
    write_image(tmp_path / "c.png", np.array([[-0.2, 0.5, 1.3]], np.float32))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "c.png")), [[0, 128, 255]])
    for ext in (".jpg", ".bmp"):  # no alpha in what these formats round-trip: dropped
        write_image(tmp_path / f"rgba{ext}", RNG.random((4, 5, 4)))
        assert Image.open(tmp_path / f"rgba{ext}").mode == "RGB"


def test_unreadable_files_raise_one_line_user_error(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(ImageReadError) as e:
        read_image(missing)
    assert str(e.value) == f"{missing}: cannot read image (file not found)"
    assert isinstance(e.value, UserError)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(ImageReadError) as e:
        read_uint8(junk)
    assert str(e.value) == f"{junk}: is a text file, not an image"
    truncated = tmp_path / "trunc.png"
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3)).astype(np.uint8)).save(tmp_path / "full.png")
    truncated.write_bytes((tmp_path / "full.png").read_bytes()[:200])
    with pytest.raises(ImageReadError, match=r"trunc\.png: cannot read image"):
        read_image(truncated)


def test_write_is_atomic(tmp_path, monkeypatch):
    dst = tmp_path / "keep.png"
    dst.write_bytes(b"old contents")
    with pytest.raises(UserError, match=r"keep\.png: cannot write an image of shape \(2, 3, 5\)"):
        write_image(dst, np.zeros((2, 3, 5)))

    def explode(dst, ext, a):
        Path(dst).write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(formats, "encode", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        write_image(dst, np.zeros((2, 3, 3)))
    assert dst.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]
    with pytest.raises(UserError, match=r"x\.gif: unsupported image extension '\.gif'"):
        write_image(tmp_path / "x.gif", np.zeros((2, 2)))


def test_list_images(tmp_path):
    for name in ["b.PNG", "a.jpg", ".hidden.png", "notes.txt", "c.tiff"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.tiff"]
    with pytest.raises(UserError, match="not a directory"):
        list_images(tmp_path / "nope")


def _png16_header_only(path: Path, width: int, height: int) -> None:
    """A 16-bit RGB PNG whose IHDR announces `width` x `height` pixels, with one tiny IDAT (valid CRCs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def test_sizes_in_a_header_are_checked_before_any_allocation(tmp_path):
    # pypng (16-bit PNG) and tifffile have no decompression-bomb limit of their own: Pillow's applies to them too.
    limit = 2 * Image.MAX_IMAGE_PIXELS
    _png16_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    with pytest.raises(ImageReadError) as e:
        read_image(tmp_path / "bomb.png")
    assert str(e.value) == (
        f"{tmp_path / 'bomb.png'}: cannot read image (DecompressionBombError: the header announces 100000x100000 "
        f"pixels, more than the limit of {limit} (a decompression bomb?))"
    )
    tifffile.imwrite(tmp_path / "big.tif", np.zeros((4, 4), np.uint8))
    data = bytearray((tmp_path / "big.tif").read_bytes())
    with tifffile.TiffFile(tmp_path / "big.tif") as tif:  # the ImageWidth / ImageLength tags' value offsets
        tags = tif.pages[0].tags
        width_at, length_at = tags["ImageWidth"].valueoffset, tags["ImageLength"].valueoffset
        width_type = tags["ImageWidth"].dtype
    fmt = "<I" if width_type == 4 else "<H"
    data[width_at : width_at + struct.calcsize(fmt)] = struct.pack(fmt, 60_000)
    data[length_at : length_at + struct.calcsize(fmt)] = struct.pack(fmt, 60_000)
    (tmp_path / "big.tif").write_bytes(bytes(data))
    with pytest.raises(ImageReadError) as e:
        read_image(tmp_path / "big.tif")
    assert str(e.value) == (
        f"{tmp_path / 'big.tif'}: cannot read image (DecompressionBombError: the header announces 60000x60000 "
        f"pixels, more than the limit of {limit} (a decompression bomb?))"
    )


def test_a_tiff_that_trips_tifffile_is_one_line(tmp_path):
    # Found by the long fuzz run: a duplicated range of tags makes tifffile divide a tuple (TypeError).
    from testkit.fuzz import mutate

    rng = np.random.default_rng(0)
    write_image(tmp_path / "seed.tif", rng.integers(0, 256, (12, 16, 3)).astype(np.uint8))
    bad = tmp_path / "bad.tif"
    bad.write_bytes(mutate((tmp_path / "seed.tif").read_bytes(), [("dup", 0.11425694140522202, 27, b"\xe5")]))
    with pytest.raises(ImageReadError) as e:
        read_image(bad)
    assert str(e.value) == (
        f"{bad}: cannot read image (ValueError: damaged TIFF (TypeError: unsupported operand type(s) for //: 'tuple' "
        "and 'int'))"
    )
