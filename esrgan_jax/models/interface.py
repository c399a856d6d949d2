"""The generator interface: what every generator kind (RRDBNet, SRCNN, compact, SwinIR) offers its callers, and
the input it takes.

A generator has `scale`, `in_channels` (3 for RGB, 1 for a luminance network), `init_params(rng)`,
`pre_upsample`, `input_multiple` (what input height and width must be multiples of: 2 or 4 for RRDBNet's
pixel-unshuffle x2/x1 models, 1 otherwise) and `tile_multiple` (what tiles start on and are sized in: the input
multiple, or SwinIR's window size, so that a tile's attention windows are windows of the whole image). A
pre-upsampling generator (SRCNN) refines an image that was already upsampled by `scale`; `network_input` makes that
input, so inference, training and scoring all feed a generator the same way.
"""

from __future__ import annotations

import flax.linen as nn
import numpy as np

from esrgan_jax.image.resize import imresize


def network_input(module: nn.Module, lr: np.ndarray) -> np.ndarray:
    """What `module` takes for LR images [..., h, w, C] float in [0, 1]: the images themselves, or for a
    pre-upsampling generator their MATLAB-bicubic upsampling by `module.scale` (as SRCNN's training pairs)."""
    if not module.pre_upsample:
        return lr
    lr = np.asarray(lr, np.float32)
    if lr.ndim == 3:
        return np.asarray(imresize(lr, module.scale), np.float32)
    return np.stack([np.asarray(imresize(x, module.scale), np.float32) for x in lr])
