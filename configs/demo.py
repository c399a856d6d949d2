"""Offline quick start: train a small RRDBNet x4 from scratch on the bundled sample images, on CPU.

Command:
  python -m esrgan_jax.train --config demo

What it shows: the whole loop (data, jit step, checkpoints, metrics.jsonl, TensorBoard, curves.png, export,
final table against bicubic) without downloads or converted weights. Trains on scikit-image's bundled natural
colour images (split "train") and evaluates on the held-out ones (split "val": chelsea, coffee), scored as the
paper tables (PSNR/SSIM on Y, crop 4). Every parameter trains; L1 loss, Adam 1e-3 halved at 3000 and 3600.

Measured (python -m esrgan_jax.train --config demo, fresh workdir and compilation cache, 2 CPU cores):
held-out samples (chelsea, coffee), PSNR-Y / SSIM-Y: bicubic 29.38 / 0.7855, demo 30.42 / 0.8208 (+1.04 dB),
reproduced bit-for-bit in two runs; validation at steps 1000/2000/3000/4000: 29.96, 29.04, 30.25, 30.42 dB.
About 6.7 steps/s on an idle machine: the 4000 steps alone take ~10 min, the whole run 10.4 min (load ~3) to
11.8 min (a test suite started at minute 5); peak RSS 1.2 GB. Over the 10-minute budget: the shorter variant
`--config.train.steps=3600 --config.optim.milestones="(2700, 3240)"` took 9.2 min alone but reached
+0.99 dB (30.37). Making XLA:CPU use both cores (benchmarks/RESULTS.md) is the way to fit both.
"""

from configs import base


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
    config.optim.lr = 1e-3
    config.optim.b2 = 0.99
    config.optim.milestones = (3000, 3600)  # 1e-3 is fast but noisy; the halvings settle it
    config.train.steps = 4000
    config.train.log_every = 25
    config.train.eval_every = 1000
    config.train.save_every = 250
    return config
