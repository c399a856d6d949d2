"""Per-format decoders and the encoder behind `imageio`: Pillow, pypng (16-bit PNG) and tifffile.

Pillow decodes 8-bit files well, but it reduces 16-bit RGB/RGBA PNG to 8 bits (and cannot write them), so 16-bit
PNG goes through pypng (pure Python, exact in both directions); TIFF of any depth goes through tifffile. Each
decoder returns the raw uint8/uint16 samples and the EXIF orientation; `orient` applies it with numpy, so every
format is oriented the same way.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import numpy as np
import png
import tifffile
from PIL import Image

TIFF_EXTENSIONS = (".tif", ".tiff")
_ORIENTATION_TAG = 0x0112
# What a decoder may raise on a bad file; imageio turns these into one-line ImageReadError messages.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, struct.error, png.Error, Image.DecompressionBombError)
# tifffile logs what it finds wrong in a damaged file and raises; the raise is the one line a command prints.
logging.getLogger("tifffile").addHandler(logging.NullHandler())
logging.getLogger("tifffile").propagate = False


def check_pixels(height: int, width: int) -> None:
    """Refuses an image header announcing more pixels than Pillow's bomb limit (2 x `Image.MAX_IMAGE_PIXELS`),
    before anything is allocated for them; pypng and tifffile have no such limit of their own."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit and height * width > 2 * limit:
        raise Image.DecompressionBombError(
            f"the header announces {width}x{height} pixels, more than the limit of {2 * limit} (a decompression bomb?)"
        )


def orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Applies an EXIF orientation (1-8) to [H, W, C] the way viewers display it."""
    ops = {
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1],
        5: lambda x: x.transpose(1, 0, 2),
        6: lambda x: np.rot90(x, -1),
        7: lambda x: x[::-1, ::-1].transpose(1, 0, 2),
        8: lambda x: np.rot90(x, 1),
    }
    return np.ascontiguousarray(ops[orientation](a)) if orientation in ops else a


def png_bit_depth(path: Path) -> int:
    """Bit depth from a PNG's IHDR (8 for anything that is not a PNG)."""
    with open(path, "rb") as f:
        head = f.read(26)
    return head[24] if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) == 26 else 8


def read_pillow(path: Path) -> tuple[np.ndarray, int]:
    """Decodes 8-bit files and 16-bit gray PNG with Pillow. Returns (samples [H, W(, C)], EXIF orientation)."""
    with Image.open(path) as im:
        orientation = im.getexif().get(_ORIENTATION_TAG, 1)
        if im.mode in ("I;16", "I;16B", "I;16L", "I") and im.format == "PNG":
            a = np.asarray(im).astype(np.uint16)
        elif im.mode in ("L", "RGB", "RGBA"):
            a = np.asarray(im)
        elif im.mode == "1":
            a = np.asarray(im.convert("L"))
        elif im.mode in ("LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            a = np.asarray(im.convert("RGBA"))
        else:  # P, CMYK, YCbCr, ...
            a = np.asarray(im.convert("RGB"))
    return a, orientation


def read_png16(path: Path) -> tuple[np.ndarray, int]:
    """Decodes a 16-bit PNG of any colour type with pypng. Returns (uint16 [H, W, C], EXIF orientation)."""
    width, height, rows, meta = png.Reader(filename=str(path)).asDirect()
    check_pixels(height, width)
    a = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(height, width, meta["planes"])
    if meta["planes"] == 2:  # gray + alpha: keep the alpha, as RGBA (our modes are L, RGB, RGBA)
        a = np.concatenate([a[..., :1]] * 3 + [a[..., 1:]], axis=-1)
    with Image.open(path) as im:  # Pillow reads the header and eXIf chunk fine, only not 48/64-bit pixels
        orientation = im.getexif().get(_ORIENTATION_TAG, 1)
    return a, orientation


def read_tiff(path: Path) -> tuple[np.ndarray, int]:
    """Decodes a TIFF's first page with tifffile (floats in [0, 1] become uint16). Returns (samples, orientation)."""
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.pages:
                raise ValueError("the TIFF holds no image")
            page = tif.pages[0]
            check_pixels(*(page.shape[:2] if len(page.shape) >= 2 else (1, page.size)))
            a = page.asarray()
            tag = page.tags.get(_ORIENTATION_TAG)
            orientation = int(tag.value) if tag is not None else 1
    except DECODE_ERRORS:
        raise
    except Exception as e:  # tifffile trips over some damaged tags (TypeError, IndexError, ...): still a bad file
        raise ValueError(f"damaged TIFF ({type(e).__name__}: {e})") from None
    if a.dtype.kind == "f":
        a = np.round(np.clip(a, 0.0, 1.0) * 65535).astype(np.uint16)
    elif a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"unsupported TIFF sample type {a.dtype}")
    if a.ndim == 3 and a.shape[-1] == 2:
        a = np.concatenate([a[..., :1]] * 3 + [a[..., 1:]], axis=-1)
    return a, orientation


def encode(dst: str, ext: str, a: np.ndarray) -> None:
    """Writes uint8/uint16 [H, W, C] to the file `dst` in the format of extension `ext` (lower case)."""
    h, w, c = a.shape
    if ext in TIFF_EXTENSIONS:
        photometric = "minisblack" if c == 1 else "rgb"
        extras = ["unassalpha"] if c == 4 else None
        tifffile.imwrite(dst, a if c > 1 else a[..., 0], photometric=photometric, extrasamples=extras)
    elif ext == ".png" and a.dtype == np.uint16:
        with open(dst, "wb") as f:
            png.Writer(w, h, greyscale=c == 1, alpha=c == 4, bitdepth=16).write_array(f, a.reshape(-1))
    else:
        fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}[ext]
        extra = {"quality": 95} if fmt == "JPEG" else {}
        Image.fromarray(a[..., 0] if c == 1 else a).save(dst, format=fmt, **extra)
