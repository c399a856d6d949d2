"""The perceptual recipe's ablation: which of its terms lower LPIPS when x4plus is fine-tuned on the study's pairs.

Each row is the study's perceptual-trunk command (the `perceptual` config: five VGG16 layers + pixel L1 + the
colour term, EMA generator, drift guard) with one change: without the VGG layers (pixel L1 and the colour term);
the config itself; + the relativistic GAN at 5e-3; + that GAN with its discriminator trained alone for the first
40 steps. All rows but the first run once per seed (`SEEDS`); every run exports its best validated step by LPIPS.
`table` turns the runs' validations (OUT/runs/<run>/metrics.jsonl) and one evaluation of all of them on the test
sets (OUT/ablation/summary.json) into OUT/ABLATION.md: mean and standard deviation over seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from esrgan_jax.models.store import read_meta
from esrgan_jax.training.recorder import METRICS_FILE

SEEDS = (0, 1, 2)
# (label, run-name prefix, flags added to the perceptual-trunk command, seeds)
ROWS = (
    ("pixel L1 + colour term", "l1", ("--config.loss.perceptual_weight=0", "--config.train.select=lpips"), (0,)),
    ("+ five VGG16 layers (the `perceptual` config)", "vgg", (), SEEDS),
    ("+ RaGAN 5e-3", "gan", ("--config.loss.gan_weight=5e-3",), SEEDS),
    ("+ RaGAN 5e-3, D trained alone for 40 steps", "gan-warmup",
     ("--config.loss.gan_weight=5e-3", "--config.optim.d_warmup=40"), SEEDS),
)  # fmt: skip
MAIN_RUN = "perceptual-trunk"  # the "vgg" row at seed 0 is the study's own perceptual run
METRICS = (("psnr_y", 2), ("ssim_y", 4), ("lpips", 4), ("color_drift_rgb", 2))


def run_name(prefix: str, seed: int) -> str:
    return MAIN_RUN if (prefix, seed) == ("vgg", 0) else f"ablation-{prefix}-s{seed}"


def ablation_runs(perceptual_cmd: list[str]) -> dict[str, list[str]]:
    """Every ablation run's train command (without --workdir), keyed by run name; the study's own run excluded."""
    runs = {}
    for _, prefix, flags, seeds in ROWS:
        for seed in seeds:
            if run_name(prefix, seed) != MAIN_RUN:
                runs[run_name(prefix, seed)] = [*perceptual_cmd, *flags, f"--config.train.seed={seed}"]
    return runs


def selected_validation(workdir: Path) -> dict[str, float]:
    """The validation row of the step WORKDIR/export holds (metrics.jsonl)."""
    step = read_meta(workdir / "export")["source"]["step"]
    for line in (workdir / METRICS_FILE).read_text().splitlines():
        row = json.loads(line)
        if row["split"] == "val" and row["step"] == step:
            return row
    raise ValueError(f"{workdir / METRICS_FILE}: no validation at the exported step {step}")


def _cell(values: list[float | None], digits: int) -> str:
    if any(v is None for v in values):
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def table(runs: Path, summary: dict, baseline: str = "x4plus") -> list[str]:
    """The ablation table: for each row, PSNR-Y / SSIM-Y / LPIPS / RGB drift on the validation crops (selected
    step) and each test set, as mean ± sd over its seeds; the baseline (as converted) first."""
    results = summary["results"]
    sets = list(results[baseline])
    head = ["recipe", "seeds", "set", *(name for name, _ in METRICS)]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    start = next(r for r in map(json.loads, (runs / MAIN_RUN / METRICS_FILE).read_text().splitlines())
                 if r["split"] == "val" and r["step"] == 0)  # fmt: skip
    rows = [(f"{baseline} as converted", "-", [start], [[results[baseline][s]] for s in sets])]
    for label, prefix, _, seeds in ROWS:
        done = [seed for seed in seeds if run_name(prefix, seed) in results]
        names = [run_name(prefix, seed) for seed in done]
        if names:
            val = [selected_validation(runs / n) for n in names]
            rows.append((label, ",".join(map(str, done)), val, [[results[n][s] for n in names] for s in sets]))
    for label, seeds, val, per_set in rows:
        for set_name, entries in zip(["val (10 crops)", *sets], [val, *per_set], strict=True):
            cells = [_cell([e.get(m) for e in entries], d) for m, d in METRICS]
            lines.append(f"| {label} | {seeds} | {set_name} | " + " | ".join(cells) + " |")
    return lines
