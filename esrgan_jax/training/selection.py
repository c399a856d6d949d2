"""Which trained step to export: the best validation on one metric (or the last step), and when to stop early.

`Selection` is a pure function of the validation history {step: score}, so a resumed run rebuilds it from
metrics.jsonl and carries on where the first run stopped; the best generator itself is kept in WORKDIR/best
(a model directory whose model.json `source` names its step, metric and score). Step 0 is the starting model's
baseline: recorded and compared with at the end, never a candidate for export. With `config.train.drift_guard`, a
validation whose RGB colour drift is above the start's is not a candidate either.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from esrgan_jax.models.store import META_FILE, read_meta, save_model

SELECT_MODES = ("auto", "psnr_y", "lpips", "last")
LOWER_IS_BETTER = frozenset({"lpips"})
BEST_DIR = "best"
DRIFT = "color_drift_rgb"  # what config.train.drift_guard compares with the start's


def format_score(metric: str, value: float) -> str:
    """'27.35 dB' for PSNR, four decimals for the rest."""
    return f"{value:.2f} dB" if metric.startswith("psnr") else f"{value:.4f}"


class Selection:
    """The best step on `metric` among validations after step 0, and the validations since it.

    Args:
      metric: the score to select by ("psnr_y", "lpips", ...); None selects the last validated step.
      patience: stop after this many validations without improvement (0 = never).
    """

    def __init__(self, metric: str | None, patience: int = 0):
        self.metric, self.patience = metric, patience
        self.history: dict[int, float] = {}

    def better(self, a: float, b: float) -> bool:
        """Whether score `a` beats `b` strictly (ties keep the earlier step)."""
        return a < b if self.metric in LOWER_IS_BETTER else a > b

    def add(self, step: int, score: float) -> bool:
        """Records the validation at `step` (again at the same step replaces it); True if it is now the best."""
        if step <= 0:
            raise ValueError(f"Selection.add: step {step}: step 0 is the baseline, not a candidate")
        self.history[step] = float(score)
        return self.best_step == step

    @property
    def best_step(self) -> int | None:
        if not self.history:
            return None
        if self.metric is None:
            return max(self.history)
        best = None
        for step in sorted(self.history):
            score = self.history[step]
            if math.isfinite(score) and (best is None or self.better(score, self.history[best])):
                best = step
        return best

    @property
    def best_score(self) -> float | None:
        step = self.best_step
        return None if step is None else self.history[step]

    @property
    def since_best(self) -> int:
        """Validations after the best one (all of them when none was finite)."""
        best = self.best_step
        return sum(1 for s in self.history if best is None or s > best)

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.metric is not None and self.since_best >= self.patience


def candidate_score(scores: dict[str, float], metric: str, baseline: dict[str, float] | None, guard: bool) -> float:
    """The score a validation competes with for export: `scores[metric]`, or NaN (never selected) when `guard`
    is set and its RGB colour drift is above the starting model's (a perceptual loss barely sees a global colour
    shift, so a step can gain LPIPS while shifting colours)."""
    if guard and baseline is not None and DRIFT in baseline and scores.get(DRIFT, 0.0) > baseline[DRIFT]:
        return math.nan
    return float(scores[metric])


def val_history(
    rows: list[dict[str, Any]], metric: str, guard: bool = False
) -> tuple[dict[int, float], dict[str, float] | None]:
    """({step: candidate score} of the validations after step 0, the last step-0 scores or None) from
    metrics.jsonl rows; `guard` as in `candidate_score`."""
    val = [row for row in rows if row.get("split") == "val"]
    baseline = None
    for row in val:
        if row["step"] == 0:
            baseline = {k: v for k, v in row.items() if k not in ("step", "split", "wall_s", "cpu_s")}
    history = {int(r["step"]): candidate_score(r, metric, baseline, guard) for r in val if r["step"] and metric in r}
    return history, baseline


def save_best(workdir: Path, kind: str, hparams: dict[str, Any], params: Any, step: int, metric: str, score: float):
    """Writes the best generator so far to WORKDIR/best (atomically; the old one stays until the new is whole)."""
    source = {"trained_by": "esrgan_jax.train", "step": step, "select": metric, "score": score}
    save_model(workdir / BEST_DIR, kind, hparams, {"params": params}, source=source)


def best_record(workdir: Path) -> dict[str, Any] | None:
    """The `source` of WORKDIR/best/model.json ({"step", "select", "score", ...}), or None without one."""
    if not (workdir / BEST_DIR / META_FILE).is_file():
        return None
    return read_meta(workdir / BEST_DIR).get("source", {})
