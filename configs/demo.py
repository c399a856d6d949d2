"""Offline quick start: train a small RRDBNet x4 from scratch on the bundled sample images, on CPU.

Command:
  python -m esrgan_jax.train --config demo

What it shows: the whole loop (data, jit step, checkpoints, metrics.jsonl, TensorBoard, curves.png, export,
final table against bicubic) without downloads or converted weights. Trains on scikit-image's bundled natural
colour images (split "train") and evaluates on the held-out ones (split "val": chelsea, coffee), scored as the
paper tables (PSNR/SSIM on Y, crop 4). Every parameter trains; L1 loss, Adam 5e-4.
Measured (2 CPU cores, alone): see MEASURED below.
"""

from configs import base

MEASURED = "TBD"


def get_config():
    config = base.get_config()
    config.model = dict(kind="rrdbnet", scale=4, num_feat=32, num_block=2, num_grow_ch=16)
    config.init.generator = "none"
    config.train_rules = base.ALL_TRAINABLE
    config.data.train, config.data.train_split = "samples", "train"
    config.data.val, config.data.val_split = "samples", "val"
    config.data.lr_patch = 24
    config.data.batch_size = 8
    config.loss.pixel = "l1"
    config.optim.lr = 5e-4
    config.optim.b2 = 0.99
    config.optim.milestones = (1200,)
    config.train.steps = 1500
    config.train.log_every = 25
    config.train.eval_every = 500
    config.train.save_every = 250
    return config
