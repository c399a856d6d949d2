"""Validation during and after training: the generator being trained, run by the same `Upscaler` and scored by
the same loop, metrics, table and figure as `python -m esrgan_jax.evaluate`.

Images run whole (one compile per image size; `Upscaler.set_params` swaps in each step's parameters). Between
validations the validator holds no compiled programs and no device copies (`Validator.release`): that memory is
the train step's, and the next validation loads the programs from the compilation cache. The bicubic baseline
is scored once and reused by every validation. Besides the metrics, a validation reports `std_ratio`, the SR
outputs' spatial standard deviation over the HR images' (collapse.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import flax.linen as nn
import numpy as np

from esrgan_jax.compilation import release_freed_host_memory
from esrgan_jax.fileio import atomic_write
from esrgan_jax.inference import Upscaler, release_compiled
from esrgan_jax.scoring.evaluation import BICUBIC, bicubic_runner, save_figure, score_dataset, write_reports
from esrgan_jax.scoring.metrics import lpips_scorer
from esrgan_jax.scoring.report import METRICS, summary_markdown
from esrgan_jax.training.collapse import spatial_std

FIGURE_FILE = "samples.png"
REPORT_STEM = "eval"


def mean_scores(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The mean of every metric over `rows` (LPIPS only when it was computed)."""
    return {k: float(np.mean([r[k] for r in rows])) for k in METRICS if rows and rows[0].get(k) is not None}


class Validator:
    """Scores generator parameters on a validation set.

    Args:
      generator: the generator module (its compute dtype is used).
      dataset: a PairedDataset.
      name: the method's name in tables and figures (the workdir's name).
      limit: score the first `limit` images only (0 = all).
      lpips: a converted LPIPS model directory or its loaded (module, params), to add LPIPS.
    """

    def __init__(
        self,
        generator: nn.Module,
        dataset: Any,
        name: str,
        limit: int = 0,
        lpips: str | os.PathLike | tuple[nn.Module, Any] | None = None,
    ):
        self.dataset, self.name, self.limit, self.scale = dataset, name, limit, int(generator.scale)
        self.upscaler = Upscaler((generator, None), tile=0, dtype=np.dtype(generator.dtype).name)
        self.lpips = lpips_scorer(lpips) if lpips is not None else None
        self._bicubic = None
        self._hr_std: dict[str, float] | None = None  # image name -> spatial std of its HR, computed once

    def bicubic(self) -> tuple[list[dict[str, Any]], Any]:
        """Rows and first image of the bicubic baseline (computed once)."""
        if self._bicubic is None:
            runners = {BICUBIC: bicubic_runner(self.scale)}
            self._bicubic = score_dataset(self.dataset, runners, self.scale, lpips=self.lpips, limit=self.limit)
        return self._bicubic

    def run(self, params: Any, figure: Path | None = None) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """(mean scores, per-image rows) of `params`; writes the comparison figure (bicubic | model) to `figure`."""
        release_freed_host_memory()  # the train step's kept temporaries: validating should not stack on them
        self.upscaler.set_params(params)
        sr_std: dict[str, float] = {}
        rows, first = score_dataset(
            self.dataset,
            {self.name: self.upscaler.upscale},
            self.scale,
            lpips=self.lpips,
            limit=self.limit,
            on_output=lambda _, image, sr: sr_std.__setitem__(image, spatial_std(sr)),
        )
        if figure is not None:
            base = self.bicubic()[1]
            save_figure(figure, self.dataset.name, first._replace(panels=base.panels + first.panels), self.scale)
        if self._hr_std is None:
            n = len(self.dataset) if self.limit <= 0 else min(self.limit, len(self.dataset))
            self._hr_std = {ex.name: spatial_std(ex.hr) for ex in (self.dataset[i] for i in range(n))}
        hr_total = sum(self._hr_std[k] for k in sr_std)
        std_ratio = sum(sr_std.values()) / hr_total if hr_total > 0 else 1.0
        self.release()
        return {**mean_scores(rows), "std_ratio": std_ratio}, rows

    def release(self) -> None:
        """Frees what validating holds between validations: the parameters' device copies, the compiled forward
        and LPIPS programs (the next validation loads them from the compilation cache), and the memory malloc
        kept for the threads that freed it. Training's own step then has that memory."""
        self.upscaler.set_params(None)
        release_compiled()
        if self.lpips is not None:
            self.lpips.release()
        release_freed_host_memory()

    def report(self, rows: list[dict[str, Any]], out: Path, notes: list[str] = ()) -> tuple[str, dict[str, float]]:
        """Writes eval.md (the tables, then `notes` one per line), eval.json and per_image.csv (bicubic and
        `rows`) to `out`; returns (the Markdown, the bicubic means)."""
        base = self.bicubic()[0]
        summary = write_reports(out, base + rows, self.scale, stem=REPORT_STEM)
        text = summary_markdown(summary) + "".join(f"\n{line}\n" for line in notes)
        if notes:
            atomic_write(out / f"{REPORT_STEM}.md", text)
        return text, mean_scores(base)
