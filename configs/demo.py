"""Offline quick start: train a small RRDBNet x4 from scratch on the bundled sample images, on CPU.

Command:
  python -m esrgan_jax.train --config demo

What it shows: the whole loop (data, jit step, checkpoints, metrics.jsonl, TensorBoard, curves.png, export,
final table against bicubic) without downloads or converted weights. Trains on scikit-image's bundled natural
colour images (split "train") and evaluates on the held-out ones (split "val": chelsea, coffee), scored as the
paper tables (PSNR/SSIM on Y, crop 4). Every parameter of a one-block network trains; L1 loss, Adam 2e-3 halved
at 1500, 2100 and 2550, 3000 steps.

Measured 2026-12-02 on an idle 2-core AMD EPYC Zen 4 machine (fresh workdir and compilation cache), side by
side with the previous demo (two blocks, Adam 1e-3, 4000 steps; run just before it from commit b1c686b):
this one 8 min 37 s wall in all, 6.5 steps/s (median), peak RSS 1.07 GB, PSNR-Y on the held-out samples (chelsea,
coffee) 30.40 against bicubic's 29.38 (+1.02 dB), validation at steps 1000 / 2000 / 3000: 28.45, 30.23, 30.40;
the previous one 19 min 21 s for 30.46 (+1.08 dB), so 0.45x of its time. The previous demo took 8 min 27 s on a
2-core Zen 5 machine (benchmarks/RESULTS.md, "The quick start at half the time"); this one has not been timed
there.
"""

from configs import base


def get_config():
    config = base.get_config()
    config.model = dict(kind="rrdbnet", scale=4, num_feat=32, num_block=1, num_grow_ch=16)
    config.init.generator = "none"
    config.train_rules = base.ALL_TRAINABLE
    config.data.train, config.data.train_split = "samples", "train"
    config.data.val, config.data.val_split = "samples", "val"
    config.data.lr_patch = 24
    config.data.batch_size = 8
    config.loss.pixel = "l1"
    config.optim.lr = 2e-3
    config.optim.b2 = 0.99
    config.optim.milestones = (1500, 2100, 2550)  # 2e-3 is fast but noisy; the halvings settle it
    config.train.steps = 3000
    config.train.log_every = 25
    config.train.eval_every = 1000  # each validation and checkpoint costs about 1-2 s of a 9-minute run
    config.train.save_every = 1000
    return config
