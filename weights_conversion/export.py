"""Export a model directory back to a PyTorch checkpoint that Real-ESRGAN, BasicSR, ESRGAN and spandrel load.

    python -m weights_conversion.export MODEL OUT [--layout basicsr|esrgan-new|esrgan-old|srcnn]
                                        [--key params_ema|params|none] [--half] [--overwrite]

MODEL is any model directory this project writes (converted, interpolated, or a training workdir, whose
generator is in WORKDIR/export/). OUT's suffix picks the format: `.pth` is `torch.save` of plain tensors
(loadable with `torch.load(weights_only=True)`), `.safetensors` is written without torch. Tensors are float32,
float16 with `--half`. Keys follow `--layout` (see `weights_conversion.to_torch.LAYOUTS`); `.pth` files are
wrapped as the layout's ecosystem ships them (`{"params_ema": ...}` for BasicSR generators, `{"params": ...}`
for its discriminator, none for xinntao's ESRGAN and SRCNN) unless `--key` says otherwise. A `.safetensors`
file is one flat dict of tensors, so it has no wrapper and any `--key` but `none` is refused. OUT is written
beside itself and renamed into place; an existing OUT is kept unless `--overwrite`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, NamedTuple

from esrgan_jax.errors import run_cli
from esrgan_jax.fileio import atomic_output
from esrgan_jax.models.store import load_variables, read_meta, resolve_model_dir
from weights_conversion.common import ConversionError, StateDict, param_count
from weights_conversion.io import sha256
from weights_conversion.to_torch import LAYOUTS, check_layout, state_dict

SUFFIXES = (".pth", ".safetensors")
KEYS = ("params_ema", "params", "none")


class Exported(NamedTuple):
    """What `export_model` wrote."""

    out: Path
    kind: str
    layout: str
    key: str | None  # the wrapper key of a .pth, None when the state dict is at the top level
    num_tensors: int
    num_params: int  # trainable parameters (BatchNorm running statistics are tensors, not parameters)
    dtype: str  # "float32" or "float16"
    sha256: str


def _wrapper(out: Path, kind: str, layout: str, key: str | None) -> str | None:
    """The wrapper key to write, from `--key` (None: the layout's default) and the file format."""
    if key is not None and key not in KEYS:
        raise ConversionError(f"unknown key {key!r}; expected one of {', '.join(KEYS)}")
    if out.suffix == ".safetensors":
        if key not in (None, "none"):
            raise ConversionError(f"{out}: a .safetensors file is one flat dict of tensors; --key {key} needs a .pth")
        return None
    key = LAYOUTS[kind][layout].default_key if key is None else key
    return None if key == "none" else key


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ConversionError(
            "writing .pth files needs PyTorch; install the CPU build (`pip install torch`) or write .safetensors"
        ) from None
    return torch


def export_model(
    model: str | os.PathLike,
    out: str | os.PathLike,
    layout: str | None = None,
    key: str | None = None,
    half: bool = False,
    overwrite: bool = False,
) -> Exported:
    """Writes the model directory (or training workdir) `model` as the PyTorch checkpoint `out`.

    Args:
      model: a model directory, or a training workdir (its `export/` is used).
      out: `.pth` or `.safetensors` file to write (atomically).
      layout: key layout, a key of `LAYOUTS[kind]`; None for the kind's default (basicsr for RRDBNet).
      key: `.pth` wrapper: "params_ema", "params", "none", or None for the layout's default.
      half: write floating-point tensors as float16.
      overwrite: replace an existing `out` (otherwise refused, and the file is left as it is).

    Returns:
      An `Exported` summary. Bad input raises a ConversionError/CheckpointError (one line) before `out` is touched.
    """
    out = Path(out)
    if out.suffix not in SUFFIXES:
        raise ConversionError(f"{out}: unknown suffix {out.suffix!r}; expected .pth or .safetensors")
    if out.is_dir():
        raise ConversionError(f"{out}: is a directory")
    if out.exists() and not overwrite:
        raise ConversionError(f"{out}: already exists; pass --overwrite to replace it")
    mdir = resolve_model_dir(model)
    meta = read_meta(mdir)
    kind, hparams = meta["kind"], meta["hparams"]
    try:
        layout = check_layout(kind, hparams, layout)
    except ConversionError as e:
        raise ConversionError(f"{mdir}: {e}") from None
    wrapper = _wrapper(out, kind, layout, key)
    torch = _torch() if out.suffix == ".pth" else None  # fail before the (slow) restore, not after
    _, variables = load_variables(mdir)
    sd, _ = state_dict(kind, hparams, variables, layout, half=half)
    with atomic_output(out, suffix=out.suffix) as tmp:
        if torch is None:
            _save_safetensors(sd, tmp)
        else:
            tensors = {k: torch.from_numpy(v) for k, v in sd.items()}
            torch.save({wrapper: tensors} if wrapper else tensors, tmp)
    dtype = "float16" if half else "float32"
    return Exported(out, kind, layout, wrapper, len(sd), param_count(variables), dtype, sha256(out))


def _save_safetensors(sd: StateDict, path: Path) -> None:
    from safetensors.numpy import save_file

    # "format": "pt" is what safetensors.torch writes; some loaders (diffusers, ComfyUI) look for it.
    save_file(sd, str(path), metadata={"format": "pt"})


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags of the exporter."""
    layouts = list(dict.fromkeys(name for kind in LAYOUTS.values() for name in kind))
    parser = argparse.ArgumentParser(
        prog="python -m weights_conversion.export",
        description="Export an esrgan-jax model directory (RRDBNet, compact, VGG-style discriminator, SRCNN) as a "
        "PyTorch checkpoint (.pth or .safetensors) in BasicSR/Real-ESRGAN or xinntao ESRGAN key layout.",
    )
    parser.add_argument("model", help="model directory or training workdir (its export/ is used)")
    parser.add_argument("out", help="file to write: .pth (torch.save of tensors) or .safetensors")
    parser.add_argument(
        "--layout",
        default=None,
        choices=layouts,
        help="key layout (default: basicsr for RRDBNet, compact and the discriminator, srcnn for SRCNN); "
        "esrgan-new/esrgan-old are x4 only",
    )
    parser.add_argument(
        "--key",
        default=None,
        choices=KEYS,
        help=".pth wrapper (default: params_ema for basicsr generators as Real-ESRGAN ships them, params for the "
        "discriminator, none otherwise); .safetensors files are never wrapped",
    )
    parser.add_argument("--half", action="store_true", help="write float16 tensors (default float32)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exports MODEL to OUT and prints what was written; bad input is one `error:` line (exit code 2)."""
    args = build_parser().parse_args(argv)
    done = export_model(args.model, args.out, args.layout, args.key, args.half, args.overwrite)
    key = f"key {done.key}" if done.key else "no wrapper key"
    print(f"exported {args.model} -> {done.out}")
    sizes = f"{done.num_tensors} tensors, {done.num_params:,} parameters, {done.dtype}"
    print(f"  {done.kind}, layout {done.layout}, {key}, {sizes}")
    print(f"  sha256 {done.sha256}")
    return 0


if __name__ == "__main__":
    run_cli(main)
