"""`open_dataset(spec)`: one entry point for every data source that training, evaluation and upscaling accept.

Specs: an EDSR-layout folder (`HR/` + `LR_bicubic/X{scale}/`), `LRDIR:HRDIR`, an HR-only folder (LR made with the
MATLAB bicubic), `samples` (scikit-image's bundled images) or `tfds:NAME[:SPLIT]`. Cheap checks (file headers,
pairing, scale) run here; a bad file is an error naming it, or with `skip_bad=True` is left out with a
`DataWarning` and a count. Paired folders print a pairing report to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from esrgan_jax.data.dataset import DataWarning, Example, FilePair, HrFile, PairedDataset, drop_bad
from esrgan_jax.data.pairing import image_size, pair_folders
from esrgan_jax.data.samples import open_samples
from esrgan_jax.data.tfds_source import open_tfds
from esrgan_jax.errors import UserError
from esrgan_jax.image.io import IMAGE_EXTENSIONS, ImageReadError, list_images

__all__ = ["DataWarning", "Example", "PairedDataset", "open_dataset", "open_hr_folder", "open_paired_folders"]


def _display_name(folder: Path) -> str:
    """'Set5' for Set5/HR: a folder called HR/GT is named after its parent."""
    folder = folder.resolve()
    return folder.parent.name if folder.name.lower() in ("hr", "gt") else folder.name


def open_paired_folders(
    lr_dir: str | Path,
    hr_dir: str | Path,
    scale: int = 4,
    *,
    name: str | None = None,
    skip_bad: bool = False,
    verbose: bool = True,
) -> PairedDataset:
    """Pairs an LR folder with an HR folder (by name, then by content) and prints the pairing report.

    Raises:
      UserError: ambiguous, unmatched, unreadable or wrong-scale files, unless `skip_bad`.
    """
    lr_dir, hr_dir = Path(lr_dir), Path(hr_dir)
    report = pair_folders(lr_dir, hr_dir, scale, progress=verbose)
    if verbose:
        print(report.format(), file=sys.stderr)
    problems = [f"{p.lr} / {p.hr}: sizes are not x{scale} (mismatched scale)" for p in report.wrong_scale]
    problems += [f"{p}: cannot read image" for p in report.unreadable]
    problems += [f"{p.lr} / {p.hr}: ambiguous content match, refused" for p in report.ambiguous]
    problems += [f"{p}: no matching HR image" for p in report.unmatched_lr]
    problems += [f"{p}: no matching LR image" for p in report.unmatched_hr]
    drop_bad(problems, f"{lr_dir}:{hr_dir}", skip_bad)
    items = [FilePair(p.lr, p.hr, scale, p.rotation) for p in report.pairs if p.scale == scale]
    return PairedDataset(name or _display_name(hr_dir), scale, items, skip_bad=skip_bad)


def open_hr_folder(
    folder: str | Path, scale: int = 4, *, name: str | None = None, skip_bad: bool = False
) -> PairedDataset:
    """An HR-only folder: each LR is the MATLAB bicubic downscale of its HR cropped to a multiple of `scale`.

    Raises:
      UserError: unreadable or too-small (< scale pixels) files, unless `skip_bad`; no images at all.
    """
    folder = Path(folder)
    items, problems = [], []
    for path in list_images(folder):
        try:
            h, w = image_size(path)
        except ImageReadError as e:
            problems.append(str(e))
            continue
        if h < scale or w < scale:
            problems.append(f"{path}: {w}x{h} is smaller than the scale {scale}")
        else:
            items.append(HrFile(path, scale))
    drop_bad(problems, str(folder), skip_bad)
    if not items:
        raise UserError(f"{folder}: no usable images (expected files ending in {', '.join(IMAGE_EXTENSIONS)})")
    return PairedDataset(name or _display_name(folder), scale, items, skip_bad=skip_bad)


def _find_lr_dir(folder: Path, scale: int) -> Path | None:
    """EDSR layout: folder/LR_bicubic/X4 (any case)."""
    for lr_root in (p for p in folder.iterdir() if p.is_dir() and p.name.lower() == "lr_bicubic"):
        for sub in lr_root.iterdir():
            if sub.is_dir() and sub.name.lower() == f"x{scale}":
                return sub
    return None


def open_dataset(
    spec: str, scale: int = 4, *, split: str | None = None, skip_bad: bool = False, verbose: bool = True
) -> PairedDataset:
    """Opens any supported data source as a PairedDataset.

    Args:
      spec: an EDSR-layout folder (`HR/` + `LR_bicubic/X{scale}/`), `LRDIR:HRDIR`, an HR-only folder,
        `samples`, or `tfds:NAME[:SPLIT]`.
      scale: SR scale.
      split: 'train'/'val' for `samples` (None: all), the tfds split when the spec has none; unused for folders.
      skip_bad: leave bad files out with a DataWarning instead of raising.
      verbose: print the pairing report and progress bars.

    Returns:
      The dataset; its display name is the folder's base name (a folder called HR is named after its parent),
      'samples', or the tfds name.

    Raises:
      UserError: the spec is none of the above, or (without skip_bad) a file is bad.
    """
    if spec == "samples":
        return open_samples(scale, split)
    if spec.startswith("tfds:"):
        return open_tfds(spec[len("tfds:") :], scale, split, skip_bad=skip_bad)
    path = Path(spec)
    if path.is_dir():
        hr_dir = next((p for p in path.iterdir() if p.is_dir() and p.name.lower() == "hr"), None)
        if hr_dir is None:
            return open_hr_folder(path, scale, skip_bad=skip_bad)
        lr_dir = _find_lr_dir(path, scale)
        if lr_dir is None:
            return open_hr_folder(hr_dir, scale, name=path.resolve().name, skip_bad=skip_bad)
        return open_paired_folders(lr_dir, hr_dir, scale, name=path.resolve().name, skip_bad=skip_bad, verbose=verbose)
    if ":" in spec:
        lr_dir, hr_dir = spec.split(":", 1)
        for d in (lr_dir, hr_dir):
            if not Path(d).is_dir():
                raise UserError(f"{spec}: {d!r} is not a directory (expected LRDIR:HRDIR)")
        return open_paired_folders(lr_dir, hr_dir, scale, skip_bad=skip_bad, verbose=verbose)
    raise UserError(f"{spec}: no such folder (expected a folder, LRDIR:HRDIR, 'samples' or 'tfds:NAME[:SPLIT]')")
