"""The model that ships inside the package: what `upscale` without `--weights` and `Upscaler()` use.

`compact_x4/` is a model directory (`model.json` + `variables/`, stored in float16): Real-ESRGAN's compact
realesr-animevideov3 (SRVGGNetCompact) fine-tuned for x4 bicubic downscaling. Its `model.json` `source` holds the
training command, data, commit, licence and test scores; `python -m experiments.builtin_model` writes it.
"""

from __future__ import annotations

from pathlib import Path

BUILTIN = "compact_x4"


def builtin_dir() -> Path:
    """The built-in model's directory inside the installed package."""
    return Path(__file__).resolve().parent / BUILTIN


def size_bytes(path: str | Path) -> int:
    """Bytes on disk of every file under a model directory (model.json and variables/)."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def describe(other: str) -> str:
    """The one line that says the built-in model is in use; `other` says how to choose another model."""
    from esrgan_jax.models.store import read_meta

    meta = read_meta(builtin_dir())
    scale = meta["hparams"]["scale"]
    size = size_bytes(builtin_dir()) / 1e6
    return f"using the built-in model {BUILTIN} ({meta['kind']}, x{scale}, {size:.1f} MB); {other} for another"
