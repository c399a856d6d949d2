"""Validation during and after training: super-resolve whole validation images and score them.

Scores follow the paper tables (esrgan_jax.metrics.sr_scores: uint8 output, crop = scale, Y channel and RGB).
The generator runs on the whole LR image under `jax.jit`, one compile per distinct image size; the compiled
functions are cached, so periodic validation compiles only the first time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from esrgan_jax.color import upscale_luma
from esrgan_jax.data.resize import bicubic_upscale
from esrgan_jax.devices import place
from esrgan_jax.metrics import sr_scores

SCORE_KEYS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")


def model_input(lr: np.ndarray, scale: int, pre_upsample: bool) -> np.ndarray:
    """The generator's input for LR images [..., h, w, C] float in [0, 1]: bicubic-upsampled for SRCNN."""
    if not pre_upsample:
        return lr
    if lr.ndim == 3:
        return bicubic_upscale(lr.astype(np.float32), scale)
    return np.stack([bicubic_upscale(x.astype(np.float32), scale) for x in lr])


def make_predict_fn(module: nn.Module) -> Callable[[Any, np.ndarray], np.ndarray]:
    """(params, x [h, w, C] float32) -> SR [H, W, C] float32 clipped to [0, 1], jitted per input size."""

    @jax.jit
    def predict(params, x):
        return jnp.clip(module.apply({"params": params}, x)[0], 0.0, 1.0)

    def run(params, x):
        # Split the image's rows over the devices that divide them, as Upscaler does; the training state's own
        # placement (replicated over the training mesh) would run the whole image once per device.
        x = np.asarray(x, np.float32)[None]
        if jax.process_count() > 1:  # parameters span processes: every process runs the image (as before)
            return np.asarray(predict(params, x))
        return np.asarray(predict(*place(params, x)))

    return run


def make_lpips_fn(path: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """(sr, hr) uint8 or float [H, W, 3] -> LPIPS (VGG16) with a converted LPIPS model directory at `path`."""
    from esrgan_jax.checkpoint import load_lpips
    from esrgan_jax.models.lpips import lpips_distance

    module, lp_params = load_lpips(path)
    dist = jax.jit(lambda a, b: lpips_distance(module, lp_params, a, b))
    as_float = lambda a: a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)  # noqa: E731
    return lambda sr, hr: float(dist(as_float(sr), as_float(hr)))


def _rgb(a: np.ndarray) -> np.ndarray:
    """Grayscale images are scored and fed as 3 channels, as the training pipeline does."""
    return np.repeat(a, 3, axis=-1) if a.shape[-1] == 1 else a[..., :3]


def validate(
    predict: Callable[[Any, np.ndarray], np.ndarray],
    params: Any,
    dataset: Any,
    scale: int,
    *,
    pre_upsample: bool = False,
    luma: bool = False,
    limit: int = 0,
    keep: int = 2,
    lpips_fn: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> tuple[dict[str, float], list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Mean scores of the generator on (the first `limit` images of) `dataset`.

    Args:
      predict: from `make_predict_fn`.
      params: generator parameters.
      dataset: a PairedDataset (examples with uint8 `lr` [h, w, C] and `hr` [h*s, w*s, C]).
      scale: the SR factor.
      pre_upsample: feed the bicubic-upsampled LR (SRCNN).
      luma: the generator takes one channel: run it on Y (esrgan_jax.color.upscale_luma).
      limit: at most this many images (0 = all).
      keep: how many (lr, sr, hr) triplets to return for the sample grid.
      lpips_fn: from `make_lpips_fn`, to add "lpips" to the scores.

    Returns:
      ({"psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"[, "lpips"]} averaged over images, triplets).
    """
    n = len(dataset) if limit <= 0 else min(limit, len(dataset))
    rows, triplets = [], []
    for i in range(n):
        ex = dataset[i]
        lr, hr = _rgb(ex.lr), _rgb(ex.hr)
        x = lr.astype(np.float32) / 255.0
        if luma:  # a Y-only model (SRCNN as published): Y through it, Cb/Cr by bicubic
            sr = np.clip(upscale_luma(lambda y: predict(params, model_input(y, scale, pre_upsample)), x, scale), 0, 1)
        else:
            sr = predict(params, model_input(x, scale, pre_upsample))
        rows.append(sr_scores(sr, hr, scale))
        if lpips_fn is not None:
            rows[-1]["lpips"] = lpips_fn(sr, hr)
        if len(triplets) < keep:
            triplets.append((lr, sr, hr))
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}, triplets


def bicubic_scores(dataset: Any, scale: int, limit: int = 0) -> dict[str, float]:
    """Mean scores of MATLAB-bicubic upscaling on the same images (the baseline row of the final table)."""
    n = len(dataset) if limit <= 0 else min(limit, len(dataset))
    rows = [sr_scores(bicubic_upscale(_rgb(dataset[i].lr), scale), _rgb(dataset[i].hr), scale) for i in range(n)]
    return {k: float(np.mean([r[k] for r in rows])) for k in SCORE_KEYS}


def format_table(results: dict[str, dict[str, float]], dataset_name: str, n_images: int) -> str:
    """A Markdown table: one row per method with PSNR/SSIM (Y and RGB), and the gain over bicubic."""
    base = results.get("bicubic", {}).get("psnr_y")
    lines = [
        f"{dataset_name} ({n_images} images; uint8 output, border of `scale` pixels cropped)",
        "| method | PSNR-Y | SSIM-Y | PSNR-RGB | SSIM-RGB | PSNR-Y vs bicubic |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in results.items():
        gain = "" if base is None else f"{s['psnr_y'] - base:+.2f} dB"
        lines.append(
            f"| {name} | {s['psnr_y']:.2f} | {s['ssim_y']:.4f} | {s['psnr_rgb']:.2f} | {s['ssim_rgb']:.4f} | {gain} |"
        )
    return "\n".join(lines)
