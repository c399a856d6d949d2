"""Random Flax model directories and their JAX outputs, the starting point of the export tests.

Variables are drawn straight into the Flax tree and saved with `save_model`, with no PyTorch involved, so the
PyTorch side of an export test (reference modules, spandrel) only ever sees what the exporter wrote. Sizes are
tiny but keep spandrel's fixed growth width (it builds every RRDB with gc=32 whatever the weights say).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax
import numpy as np

from esrgan_jax.models import build_model
from esrgan_jax.models.store import load_model, save_model
from weights_conversion.common import expected_variables


def rrdbnet(scale: int) -> dict[str, Any]:
    return {"num_in_ch": 3, "num_out_ch": 3, "scale": scale, "num_feat": 16, "num_block": 2, "num_grow_ch": 32}


# name -> (kind, hparams, a sample input shape for tracing)
SPECS: dict[str, tuple[str, dict[str, Any], tuple[int, ...]]] = {
    "x4": ("rrdbnet", rrdbnet(4), (1, 1, 1, 3)),
    "x2": ("rrdbnet", rrdbnet(2), (1, 2, 2, 3)),
    "x1": ("rrdbnet", rrdbnet(1), (1, 4, 4, 3)),
    "disc": ("vgg_discriminator", {"num_in_ch": 3, "num_feat": 8, "input_size": 128}, (1, 128, 128, 3)),
    "srcnn": ("srcnn", {"num_channels": 3, "scale": 3, "filters": [64, 32], "kernels": [9, 5, 5]}, (1, 16, 16, 3)),
}
# Weight std giving image-like RRDBNet outputs that depend strongly on the input (as in test_convert_rrdbnet).
STD = 0.1


def random_variables(kind: str, hparams: dict[str, Any], sample_shape: tuple[int, ...], seed: int) -> dict:
    """Every variable random: no zero bias or unit scale could hide a swapped or dropped tensor."""
    rng = np.random.default_rng(seed)
    abstract = expected_variables(build_model(kind, hparams), sample_shape)

    def draw(path, spec) -> np.ndarray:
        leaf, shape = path[-1].key, spec.shape
        if leaf == "var":
            return (rng.random(shape) + 0.5).astype(np.float32)
        if leaf == "scale":
            return (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        std = STD
        if kind == "vgg_discriminator" and leaf == "kernel":  # He init keeps 10 layers' logits O(1)
            std = math.sqrt(2.0 / math.prod(shape[:-1]))
        return (std * rng.standard_normal(shape)).astype(np.float32)

    return jax.tree_util.tree_map_with_path(draw, abstract)


def make_model_dir(root: Path, name: str, seed: int = 0) -> Path:
    """Writes the random model `name` of SPECS as a model directory under `root`."""
    kind, hparams, sample_shape = SPECS[name]
    variables = random_variables(kind, hparams, sample_shape, seed)
    return save_model(root / name, kind, hparams, variables, source={"test": "random"})


def sample_input(name: str) -> np.ndarray:
    """A batch of two inputs whose outputs differ far above the 1e-5 tolerance."""
    rng = np.random.default_rng(1)
    if name == "disc":
        # Blocky images plus noise: i.i.d. noise alone averages out over the stride-2 stages.
        blocks = rng.random((2, 8, 8, 3), dtype=np.float32).repeat(16, 1).repeat(16, 2)
        return 0.8 * blocks + 0.2 * rng.random(blocks.shape, dtype=np.float32)
    return rng.random((2, 12, 16, 3), dtype=np.float32)  # multiples of 4, as x1 pixel-unshuffle needs


def jax_output(model_dir: Path, x: np.ndarray) -> np.ndarray:
    """The model directory's output on `x` (discriminator in eval mode), through the public loader."""
    module, variables, meta = load_model(model_dir)
    if meta["kind"] == "vgg_discriminator":
        return np.asarray(jax.jit(lambda v, x: module.apply(v, x, train=False))(variables, x))
    return np.asarray(jax.jit(module.apply)({"params": variables["params"]}, x))


def random_params(module, seed: int, *samples: np.ndarray) -> dict:
    """Random parameters in numpy for `module` applied to `samples` (flax's eager init takes ~17 s here, even for
    a tiny model)."""
    shapes = jax.eval_shape(module.init, jax.random.key(0), *samples)["params"]
    rng = np.random.default_rng(seed)

    def leaf(path, s):
        if path[-1].key == "kernel":
            return rng.normal(0, math.prod(s.shape[:-1]) ** -0.5, s.shape).astype(np.float32)
        # the last conv's bias centres the output so that little of it is clipped (clipping hides differences)
        return np.full(s.shape, 0.5 if path[0].key in ("conv_last", "conv3") else 0.0, np.float32)

    return jax.tree_util.tree_map_with_path(leaf, shapes)
