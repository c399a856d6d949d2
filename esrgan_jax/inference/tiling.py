"""Fixed-shape tiled inference: cut an image into overlapping windows of one shape, run them in fixed-size
batches, and paste the cores of the outputs back together.

Real-ESRGAN clips its edge tiles to the image, so every edge tile has a new shape; under `jax.jit` that means a
compile per shape (and per image size). Here every window is `tile + 2 * pad` pixels and lies entirely inside
the image: an edge window is shifted inwards instead of clipped, so its outer edge coincides with the image edge
and the network sees exactly the zero padding that whole-image inference sees there. Along each axis the windows
are as few as keep `pad` pixels of context on each side of every core, spread evenly. Along an axis shorter than
one window, the window is the whole axis: padding the image instead would put content the network never sees in
whole-image inference next to its border. So every image larger than one window in both directions shares one
compile, and a smaller one runs as it would whole. The last batch is filled with copies of its last window, so
the batch shape never changes either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise

import numpy as np
from tqdm.auto import tqdm

# [B, T, T, C] float32 -> [B, T*s, T*s, C'] (any array type convertible by np.asarray).
BatchFn = Callable[[np.ndarray], np.ndarray]
# Float core [h, w, C'] -> final pixels [h, w, C''] (quantised, reduced to gray, ...).
PostFn = Callable[[np.ndarray], np.ndarray]


# The defaults of Upscaler and of the upscale / evaluate commands: a trained 23-block model stays within a few
# levels of whole-image output with 64 pixels of context (README, "Tiling on a real model").
DEFAULT_TILE, DEFAULT_TILE_PAD = 512, 64


def round_up(x: int, multiple: int) -> int:
    """The smallest multiple of `multiple` that is >= x."""
    return -(-x // multiple) * multiple


def axis_windows(size: int, tile: int, pad: int, multiple: int = 1) -> list[tuple[int, int, int]]:
    """(window_start, core_start, core_end) along one axis of length `size`.

    As few windows of `tile + 2 * pad` pixels as cover the axis with overlaps of >= 2 * pad: the first starts
    at 0, the last ends at `size`, the others are spread evenly between them (starts on multiples of
    `multiple`; `size`, `tile` and `pad` must be multiples of it). Cores partition [0, size) and meet in the
    middle of each overlap, so every core keeps >= `pad` pixels of context on each side that is not the image
    border. An axis no longer than one window is one window.
    """
    window = tile + 2 * pad
    if size <= window:
        return [(0, 0, size)]
    n = -(-(size - 2 * pad) // tile)  # stride <= tile <=> overlap >= 2 * pad
    units = (size - window) // multiple
    starts = [round(i * units / (n - 1)) * multiple for i in range(n)]
    ends = [(a + window + b) // 2 for a, b in pairwise(starts)] + [size]
    return list(zip(starts, [0] + ends[:-1], ends, strict=True))


def pad_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Reflect-pads [H, W, C] at the bottom/right up to at least [height, width] (no-op when already there)."""
    dh, dw = max(height - image.shape[0], 0), max(width - image.shape[1], 0)
    if dh == 0 and dw == 0:
        return image
    # numpy reflects repeatedly when the pad is longer than the image, so tiny images work too.
    return np.pad(image, ((0, dh), (0, dw), (0, 0)), mode="reflect" if min(image.shape[:2]) > 1 else "edge")


def _batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def run_tiled(
    fn: BatchFn,
    image: np.ndarray,
    *,
    scale: int,
    tile: int,
    pad: int,
    batch: int,
    post: PostFn,
    multiple: int = 1,
    progress: bool = False,
    desc: str = "tiles",
) -> np.ndarray:
    """Runs `fn` over `image` [H, W, C] float32 and returns `post` of the result, [H*scale, W*scale, C''].

    Args:
      fn: the network on a batch, [B, T, T, C] -> [B, T*scale, T*scale, C'], with B = `batch` (tiled) or 1.
      image: [H, W, C] float32 input.
      scale: output pixels per input pixel.
      tile: core size in input pixels; 0 runs the whole image in one call (one compile per image size).
      pad: overlap on each side of a core, cropped away after the network (Real-ESRGAN's tile_pad).
      batch: windows per call of `fn`; the last batch is filled up to this size.
      post: applied to every float output core before it is stored (sets the output dtype and channels).
      multiple: H, W, tile and pad are rounded up to this (the generator's `tile_multiple`: 4 // scale for
        pixel-unshuffle models, SwinIR's window size).
      progress: show a tqdm bar over the batches.
      desc: the bar's label.

    Returns:
      The assembled output, [H*scale, W*scale, C''], of the dtype `post` returns.
    """
    h, w = image.shape[:2]
    if tile <= 0:
        padded = pad_to(image, round_up(h, multiple), round_up(w, multiple))
        return post(np.asarray(fn(padded[None]))[0, : h * scale, : w * scale])
    tile, pad = round_up(tile, multiple), round_up(pad, multiple)
    padded = pad_to(image, round_up(h, multiple), round_up(w, multiple))
    wh, ww = (min(tile + 2 * pad, n) for n in padded.shape[:2])  # the window; the whole axis when shorter
    rows, cols = (axis_windows(n, tile, pad, multiple) for n in padded.shape[:2])
    tiles = [(y, x) for y in rows for x in cols]
    out = None
    pending = None  # one batch in flight, so the host pastes while the device computes the next
    groups = list(_batches(tiles, batch))
    for group in tqdm(groups + [None], desc=desc, unit="batch", leave=False, disable=not progress):
        if group is not None:
            windows = [padded[ys : ys + wh, xs : xs + ww] for (ys, _, _), (xs, _, _) in group]
            windows += [windows[-1]] * (batch - len(windows))
            launched = (fn(np.stack(windows)), group)
        if pending is not None:
            result, done = pending
            result = np.asarray(result)
            for i, ((ys, y0, y1), (xs, x0, x1)) in enumerate(done):
                y1, x1 = min(y1, h), min(x1, w)
                core = post(result[i, (y0 - ys) * scale : (y1 - ys) * scale, (x0 - xs) * scale : (x1 - xs) * scale])
                if out is None:
                    out = np.empty((h * scale, w * scale, core.shape[-1]), core.dtype)
                out[y0 * scale : y1 * scale, x0 * scale : x1 * scale] = core
        pending = launched if group is not None else None
    return out
