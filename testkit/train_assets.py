"""Tiny training assets and configs: a 3-image HR folder, a random generator and VGG19 as model directories, and
any `configs/<name>.py` shrunk to seconds per step. Used by tests/test_train.py and the GPU check's training
smoke (benchmarks/gpu/smoke.py).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import jax
import ml_collections
import numpy as np

from esrgan_jax.image.io import write_image
from esrgan_jax.models import RRDBNet, VGGFeatures
from esrgan_jax.models.store import save_model

TINY_G = dict(kind="rrdbnet", scale=4, num_feat=8, num_block=1, num_grow_ch=8)


def make_assets(root: Path) -> Path:
    """Writes `root/hr` (three 128x128 crops of skimage's astronaut), `root/gen` and `root/vgg19`; returns root."""
    from skimage import data as skdata

    img = skdata.astronaut()
    for i, (y, x) in enumerate([(0, 0), (128, 200), (300, 300)]):
        write_image(root / "hr" / f"im{i}.png", img[y : y + 128, x : x + 128])
    hparams = {k: v for k, v in TINY_G.items() if k != "kind"}
    rng = np.random.default_rng(0)
    rand = lambda tree: jax.tree.map(lambda s: rng.standard_normal(s.shape, np.float32) * 0.05, tree)  # noqa: E731
    g = jax.eval_shape(lambda: RRDBNet(**hparams).init_params(jax.random.PRNGKey(0)))  # shapes only: no compiles
    save_model(root / "gen", "rrdbnet", hparams, {"params": rand(g)})
    # VGG19 up to conv2_2 only: the end-to-end runs use that layer (conv5_4 is checked against torch in
    # test_losses/test_step), a sliver of the full network to write and compile.
    vgg = VGGFeatures(layers=("conv2_2",))
    shapes = jax.eval_shape(lambda: vgg.init(jax.random.PRNGKey(0), np.zeros((1, 32, 32, 3))))
    rng = np.random.default_rng(0)
    save_model(
        root / "vgg19", "vgg19", {}, jax.tree.map(lambda s: rng.standard_normal(s.shape, np.float32) * 0.05, shapes)
    )
    return root


def tiny_config(name: str, assets: Path, steps: int = 2, **train_overrides) -> ml_collections.ConfigDict:
    """`configs/<name>.py` shrunk: 8 features, 1 block, batch 2, 16x16 LR patches (32 with a discriminator)."""
    config = importlib.import_module(f"configs.{name}").get_config()
    if config.model.kind == "rrdbnet":
        config.model.update({k: v for k, v in TINY_G.items() if k != "kind"})
    else:
        config.model.filters = (8, 8)
    if config.init.generator != "none":
        config.init.generator = str(assets / "gen")
    config.init.vgg19 = str(assets / "vgg19")
    config.loss.perceptual_layers = (("conv2_2", 1.0),)
    if name != "demo":
        config.data.update(train=str(assets / "hr"), train_split="", val=str(assets / "hr"), val_split="")
    config.data.update(batch_size=2, lr_patch=32 if config.loss.gan_weight else 16, val_images=2)
    config.discriminator.num_feat = 8
    config.train.update(steps=steps, log_every=1, save_every=1, eval_every=0)
    config.train.update(train_overrides)
    return config
