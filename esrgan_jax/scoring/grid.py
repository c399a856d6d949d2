"""Side-by-side comparison figures: HR overview | LR | each method | HR, on one zoomed crop, labelled.

The crop is the most textured square of the HR image (largest mean gradient), aligned to the scale so that
the LR crop covers exactly the same area; pixels are shown unsmoothed (nearest neighbour), so the differences
between methods stay visible.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.patches as patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from esrgan_jax.fileio import atomic_write  # noqa: E402


def pick_crop(hr: np.ndarray, scale: int, size: int = 96) -> tuple[int, int, int]:
    """(top, left, side) of the most textured square of `hr` [H, W, C], all multiples of `scale`.

    Args:
      hr: the ground truth image, uint8 [H, W, C].
      scale: the SR factor; the crop's corner and side are multiples of it.
      size: the wanted side in HR pixels (shrunk to fit small images).

    Returns:
      (top, left, side) in HR pixels.
    """
    h, w = hr.shape[:2]
    side = max(scale, min(size, h, w) // scale * scale)
    gray = hr.astype(np.float64).mean(axis=-1)
    grad = np.zeros_like(gray)
    grad[:, 1:] += np.abs(np.diff(gray, axis=1))
    grad[1:, :] += np.abs(np.diff(gray, axis=0))
    integral = np.pad(grad.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    step = max(scale, side // 4 // scale * scale)
    best, best_pos = -1.0, (0, 0)
    for top in range(0, h - side + 1, step):
        for left in range(0, w - side + 1, step):
            b, r = top + side, left + side
            energy = integral[b, r] - integral[top, r] - integral[b, left] + integral[top, left]
            if energy > best:
                best, best_pos = energy, (top, left)
    return best_pos[0], best_pos[1], side


def _show(ax, img: np.ndarray, title: str) -> None:
    gray = img.shape[-1] == 1
    ax.imshow(img[..., 0] if gray else img, cmap="gray" if gray else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def comparison_grid(
    path: str | os.PathLike,
    title: str,
    lr: np.ndarray,
    hr: np.ndarray,
    panels: Sequence[tuple[str, np.ndarray]],
    scale: int,
) -> tuple[int, int, int]:
    """Writes a one-row PNG: HR overview (crop boxed) | LR crop | each method's crop | HR crop.

    Args:
      path: the PNG to write (atomically).
      title: the figure title (e.g. "Set5 / baby, x4").
      lr: uint8 [h, w, C]; hr: uint8 [h*scale, w*scale, C].
      panels: (label, SR image uint8 [H, W, C]) per method; the label may hold scores on a second line.
      scale: the SR factor.

    Returns:
      The crop (top, left, side) in HR pixels.
    """
    top, left, side = pick_crop(hr, scale)
    crop = (slice(top, top + side), slice(left, left + side))
    lr_crop = lr[top // scale : (top + side) // scale, left // scale : (left + side) // scale]
    n = 3 + len(panels)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 3.3), dpi=100)
    _show(axes[0], hr, "HR (full)")
    axes[0].add_patch(patches.Rectangle((left, top), side, side, fill=False, edgecolor="red", linewidth=1.5))
    _show(axes[1], lr_crop, f"LR (nearest x{scale})")
    for ax, (label, sr) in zip(axes[2:-1], panels, strict=True):
        _show(ax, sr[crop], label)
    _show(axes[-1], hr[crop], "HR")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))  # keep the suptitle clear of two-line panel titles
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write(path, buf.getvalue())
    return top, left, side
