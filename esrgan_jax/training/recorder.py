"""What a training run shows and leaves behind: progress bar, metrics.jsonl, TensorBoard and curves.png.

Every scalar goes to `WORKDIR/metrics.jsonl` (one JSON object per row: step, split "train" or "val", values)
and to TensorBoard event files in `WORKDIR/tensorboard` (tensorboardX: no TensorFlow needed). `curves.png` is
redrawn from metrics.jsonl, so a resumed run's figure shows its whole history. In multi-host runs only process 0
writes (the others get a `Recorder` with `enabled=False`).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from esrgan_jax.fileio import atomic_output

METRICS_FILE = "metrics.jsonl"
CURVES_FILE = "curves.png"


class Recorder:
    """Appends scalar rows to metrics.jsonl and TensorBoard; draws curves.png.

    Args:
      workdir: the training workdir.
      enabled: False on non-zero processes of a multi-host run (then every method does nothing).
    """

    def __init__(self, workdir: str | os.PathLike, enabled: bool = True):
        self.workdir = Path(workdir)
        self.enabled = enabled
        self._t0, self._cpu0 = time.perf_counter(), time.process_time()
        self._tb = None
        if enabled:
            from tensorboardX import SummaryWriter  # imported lazily: it is slow to import

            # tensorboardX names event files by the second and the host: a run started again within the same
            # second would overwrite the previous run's events without a suffix of its own.
            self._tb = SummaryWriter(
                str(self.workdir / "tensorboard"), filename_suffix=f".{os.getpid()}.{time.time_ns()}"
            )

    def write(self, step: int, split: str, values: dict[str, float]) -> None:
        """Records `values` (name -> float) for `step` under `split` ("train" or "val")."""
        if not self.enabled:
            return
        row = {"step": int(step), "split": split, **{k: float(v) for k, v in values.items()}}
        # Wall and process-CPU seconds since this run (or resumed run) started: "how long to reach X dB".
        row.update(wall_s=round(time.perf_counter() - self._t0, 2), cpu_s=round(time.process_time() - self._cpu0, 2))
        path = self.workdir / METRICS_FILE
        with open(path, "a+b") as f:
            # A run killed mid-write leaves an unfinished last line: start a new one, or this row would join it
            # and be dropped as unreadable (read_metrics skips such lines).
            if f.seek(0, os.SEEK_END) > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")
            f.write((json.dumps(row) + "\n").encode())
        for k, v in values.items():
            self._tb.add_scalar(f"{split}/{k}", float(v), int(step))
        self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(workdir: str | os.PathLike) -> list[dict[str, Any]]:
    """All rows of WORKDIR/metrics.jsonl (an unfinished last line, from a killed run, is skipped)."""
    path = Path(workdir) / METRICS_FILE
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def plot_curves(workdir: str | os.PathLike) -> Path:
    """Draws WORKDIR/curves.png: training losses (log scale) and validation metrics against steps."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot's import
    import matplotlib.pyplot as plt

    rows = read_metrics(workdir)
    panels = {"train": sorted({k for r in rows if r["split"] == "train" for k in r if k.startswith("l_")})}
    panels["val"] = sorted(
        {k for r in rows if r["split"] == "val" for k in r if k not in ("step", "split", "wall_s", "cpu_s")}
    )
    groups = [("train", panels["train"])] + [("val", [k]) for k in panels["val"]]
    fig, axes = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 3.5), squeeze=False)
    for ax, (split, keys) in zip(axes[0], groups, strict=True):
        for key in keys:
            pts = [(r["step"], r[key]) for r in rows if r["split"] == split and key in r and math.isfinite(r[key])]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="." if split == "val" else None, label=key)
            if split == "val" and pts and pts[0][0] == 0:  # a fine-tune's baseline: the starting model
                ax.axhline(pts[0][1], color="gray", linestyle="--", linewidth=0.8, label="start (step 0)")
                ax.legend(fontsize=7)
        ax.set_xlabel("step")
        ax.set_title("training losses" if split == "train" else f"validation {keys[0]}")
        if split == "train" and keys:
            ax.set_yscale("log")
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(workdir) / CURVES_FILE
    with atomic_output(out, suffix=".png") as tmp:  # savefig picks the format from the suffix
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return out


def progress_bar(total: int, initial: int, enabled: bool = True) -> tqdm:
    """The training bar: step counter with steps/s and ETA (tqdm's own), losses and epoch as postfix."""
    return tqdm(total=total, initial=initial, desc="train", unit="step", dynamic_ncols=True, disable=not enabled)


def format_postfix(epoch: float, metrics: dict[str, float]) -> dict[str, str]:
    """Short postfix for the bar: the epoch and the loss values in 3 significant digits."""
    out = {"epoch": f"{epoch:.2f}"}
    out.update({k: f"{v:.3g}" for k, v in metrics.items() if k.startswith("l_")})
    return out
