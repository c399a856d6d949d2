"""Pairs LR images with HR images by content: the global assignment behind `pair_folders`.

Each HR is downscaled with the MATLAB bicubic and compared with the LR images of a compatible size (the HR may have
been mod-cropped, e.g. to a multiple of 12, before downscaling) in each of the four 90-degree rotations. The full
comparison (mean absolute difference on 0-255 over the LR) is only made for likely candidates: a coarse 16x16
signature ranks, for every HR and for every LR, its few nearest partners first, so folders of hundreds of images
stay fast. The assignment is then solved globally (Hungarian algorithm), and a pair is refused as ambiguous unless
its cost is small and clearly below the next best alternative of either of its files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from tqdm import tqdm

from esrgan_jax.image.io import ImageReadError, read_uint8
from esrgan_jax.image.resize import bicubic_downscale, imresize

NO_MATCH = 1e9
_GRID = 16
_CANDIDATES = 8


def _signature(a: np.ndarray) -> np.ndarray:
    """[16 * 16] brightness layout of an image, comparable across small size differences."""
    gray = a.astype(np.float32).mean(axis=-1)
    return imresize(gray, output_shape=(_GRID, _GRID)).reshape(-1)


def _fits(big: tuple[int, int], small: tuple[int, int], slack: int) -> bool:
    return 0 <= big[0] - small[0] < slack and 0 <= big[1] - small[1] < slack


def _cost(down: np.ndarray, lr: np.ndarray) -> float:
    """Mean |LR - downscaled HR| over the LR (the HR side cropped top-left to the LR size)."""
    h, w = lr.shape[:2]
    d = down[:h, :w].astype(np.float32)
    lr = lr.astype(np.float32)
    if d.shape[-1] != lr.shape[-1]:  # gray vs colour: compare brightness
        d, lr = d.mean(-1, keepdims=True), lr.mean(-1, keepdims=True)
    return float(np.abs(d - lr).mean())


def _read(paths: list[Path], unreadable: list[Path], desc: str, progress: bool, scale: int | None):
    images = {}
    for p in tqdm(paths, desc=desc, disable=not progress):
        try:
            a = read_uint8(p)
            images[p] = bicubic_downscale(a, scale) if scale else a  # only the downscaled HR is kept
        except ImageReadError:
            unreadable.append(p)
    return images


def _costs(downs: list[np.ndarray], lrs: list[np.ndarray], slack: int) -> np.ndarray:
    """[n_hr, n_lr, 4] costs; NO_MATCH where the sizes do not fit or the coarse ranking ruled the pair out."""
    rot = [[np.rot90(a, k) for k in range(4)] for a in lrs]
    lr_sig = np.array([[_signature(r) for r in rs] for rs in rot])  # [n_lr, 4, G*G]
    coarse = np.full((len(downs), len(lrs), 4), np.inf)
    for i, d in enumerate(downs):
        fit = np.array([[_fits(d.shape[:2], r.shape[:2], slack) for r in rs] for rs in rot])
        dist = np.abs(lr_sig - _signature(d)).mean(-1)
        coarse[i] = np.where(fit, dist, np.inf)
    pair_coarse = coarse.min(axis=2)
    keep = np.zeros(pair_coarse.shape, bool)
    k_row, k_col = min(_CANDIDATES, len(lrs)), min(_CANDIDATES, len(downs))
    np.put_along_axis(keep, np.argsort(pair_coarse, axis=1)[:, :k_row], True, axis=1)
    np.put_along_axis(keep, np.argsort(pair_coarse, axis=0)[:k_col, :], True, axis=0)
    cost = np.full(coarse.shape, NO_MATCH)
    for i, j, k in zip(*np.nonzero(keep[:, :, None] & np.isfinite(coarse)), strict=True):
        cost[i, j, k] = _cost(downs[i], rot[j][k])
    return cost


def match_by_content(
    lrs: list[Path], hrs: list[Path], scale: int, slack: int, max_cost: float, progress: bool, unreadable: list[Path]
) -> list[tuple[Path, Path, int, float, float, bool]]:
    """Assigns LR files to HR files by content.

    Args:
      lrs: LR files; hrs: HR files; scale: the scale to downscale HRs by.
      slack: HR pixels beyond scale x LR accepted (mod-crop).
      max_cost: pairs costing more are left unmatched.
      progress: show progress bars.
      unreadable: files that cannot be read are appended here and left out.

    Returns:
      (lr, hr, rotation, cost, runner_up, ambiguous) per assigned pair: np.rot90(lr, rotation) aligns with hr;
      runner_up is the cheapest alternative for either file (or another rotation); NO_MATCH when there is none.
    """
    lr_imgs = _read(lrs, unreadable, "pairing: LR", progress, None)
    downs = _read(hrs, unreadable, "pairing: HR", progress, scale)
    if not lr_imgs or not downs:
        return []
    lrs, hrs = list(lr_imgs), list(downs)
    cost = _costs(list(downs.values()), list(lr_imgs.values()), (slack - 1) // scale + 1)
    best_k, best = cost.argmin(axis=2), cost.min(axis=2)
    second_rotation = np.sort(cost, axis=2)[:, :, 1]
    out = []
    for i, j in zip(*linear_sum_assignment(best), strict=True):
        c = float(best[i, j])
        if c > max_cost:
            continue
        others = np.concatenate([np.delete(best[i], j), np.delete(best[:, j], i), [second_rotation[i, j]]])
        runner_up = float(others.min())
        # Exact MATLAB pairs cost ~0, a re-encoded LR a little; unrelated images cost tens of levels.
        out.append((lrs[j], hrs[i], int(best_k[i, j]), c, runner_up, runner_up < 2.0 * c + 1.0))
    return out
