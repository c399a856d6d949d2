"""Reading and writing the images users have: 8/16-bit PNG, JPEG, BMP, TIFF; gray, RGB, RGBA.

Everything is read to float32 [H, W, C] in [0, 1] (C = 1, 3 or 4, alpha last) plus an `ImageInfo` that says how
to write a result back in the same kind (see `formats` for which library decodes what). Writes are atomic: a
temp file in the destination folder, then os.replace, so an existing file is never left half-written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from esrgan_jax.errors import UserError
from esrgan_jax.fileio import atomic_output
from esrgan_jax.filekind import misnamed
from esrgan_jax.image import formats
from esrgan_jax.image.pixels import quantize, to_uint8

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class ImageReadError(UserError):
    """A file that is missing or cannot be decoded as an image."""


@dataclass(frozen=True)
class ImageInfo:
    """What `write_image` needs to write a result back in the same kind as the source.

    Attributes:
      bit_depth: 8 or 16 bits per sample.
      mode: 'L' (gray), 'RGB' or 'RGBA'.
      source: the path the image was read from ('' for arrays made in memory).
    """

    bit_depth: int
    mode: str
    source: str = ""


def read_raw(path: str | os.PathLike) -> tuple[np.ndarray, ImageInfo]:
    """Reads an image without converting its samples.

    Args:
      path: image file.

    Returns:
      (uint8 or uint16 [H, W, C] with C in {1, 3, 4}, ImageInfo), EXIF orientation applied.

    Raises:
      ImageReadError: the file is missing or not a readable image.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in formats.TIFF_EXTENSIONS:
            a, orientation = formats.read_tiff(path)
        elif formats.png_bit_depth(path) == 16:
            a, orientation = formats.read_png16(path)
        else:
            a, orientation = formats.read_pillow(path)
    except formats.DECODE_ERRORS as e:
        reason = "file not found" if isinstance(e, FileNotFoundError) else f"{type(e).__name__}: {e}"
        reason = " ".join(reason.split())  # one line, whatever the decoder said
        raise ImageReadError(misnamed(path, "image") or f"{path}: cannot read image ({reason})") from None
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4) or 0 in a.shape:
        raise ImageReadError(f"{path}: cannot read image (unsupported shape {a.shape})")
    a = formats.orient(a, orientation)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[a.shape[-1]]
    return a, ImageInfo(bit_depth=16 if a.dtype == np.uint16 else 8, mode=mode, source=str(path))


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, ImageInfo]:
    """Reads an image as float32 [H, W, C] in [0, 1] (C = 1, 3 or 4, alpha last), EXIF orientation applied.

    Args:
      path: PNG (8/16-bit), JPEG, BMP or TIFF file.

    Returns:
      (image, ImageInfo with the bit depth and mode to write results back in).

    Raises:
      ImageReadError: the file is missing or not a readable image.
    """
    a, info = read_raw(path)
    return a.astype(np.float32) / np.float32(np.iinfo(a.dtype).max), info


def read_uint8(path: str | os.PathLike) -> np.ndarray:
    """Reads an image as uint8 [H, W, C] with C = 1 or 3 (alpha dropped; 16-bit rounded to 8), for metrics.

    Raises:
      ImageReadError: the file is missing or not a readable image.
    """
    a, _ = read_raw(path)
    return to_uint8(a[..., :3] if a.shape[-1] == 4 else a)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Sorted image files (by IMAGE_EXTENSIONS, any case, hidden files skipped) directly inside `folder`.

    Raises:
      UserError: `folder` is not a directory.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: not a directory")
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    )


def convert_mode(a: np.ndarray, mode: str) -> np.ndarray:
    """Converts [H, W, C] between 'L', 'RGB' and 'RGBA' (gray from RGB is the channel mean: our gray images are
    processed as three equal channels, so the mean is their exact inverse; alpha added is opaque)."""
    c = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    if a.shape[-1] == c:
        return a
    color = a[..., :3] if a.shape[-1] == 4 else a
    if c == 1:
        return color.astype(np.float64).mean(axis=-1, keepdims=True).astype(a.dtype)
    rgb = np.repeat(color, 3, axis=-1) if color.shape[-1] == 1 else color
    if c == 3:
        return rgb
    opaque = np.full(a.shape[:-1] + (1,), 1.0 if a.dtype.kind == "f" else np.iinfo(a.dtype).max, a.dtype)
    return np.concatenate([rgb, opaque], axis=-1)


def _quantise(a: np.ndarray, bit_depth: int) -> np.ndarray:
    return quantize(a, np.uint8 if bit_depth == 8 else np.uint16)


def write_image(
    path: str | os.PathLike, array: np.ndarray, info: ImageInfo | None = None, bit_depth: int | None = None
) -> None:
    """Writes an image atomically (a temp file in the same folder, then os.replace); format from the extension.

    Args:
      path: destination (.png, .jpg/.jpeg, .bmp, .tif/.tiff).
      array: float [H, W, C] or [H, W] in [0, 1] (clipped, rounded), or uint8/uint16 samples.
      info: when given, the result is written with its mode ('L', 'RGB', 'RGBA') and bit depth.
      bit_depth: 8 or 16; overrides `info`. Default: info's, else 16 for uint16 arrays, else 8. JPEG and BMP
        are always 8-bit and drop alpha (JPEG has none; Pillow reads 32-bit BMP back as RGB).

    Raises:
      UserError: unsupported extension, bit depth or array shape.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise UserError(f"{path}: unsupported image extension {ext!r} (expected one of {', '.join(IMAGE_EXTENSIONS)})")
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise UserError(f"{path}: cannot write an image of shape {a.shape} (expected [H, W] or [H, W, 1|3|4])")
    if info is not None:
        a = convert_mode(a, info.mode)
    depth = bit_depth or (info.bit_depth if info else (16 if a.dtype == np.uint16 else 8))
    if depth not in (8, 16):
        raise UserError(f"{path}: bit depth must be 8 or 16, got {depth}")
    if ext in (".jpg", ".jpeg", ".bmp"):
        depth = 8
        a = a[..., :3] if a.shape[-1] == 4 else a
    a = np.ascontiguousarray(_quantise(a, depth))
    with atomic_output(path) as tmp:
        formats.encode(str(tmp), ext, a)
