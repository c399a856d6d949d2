"""SRCNN x4 (Dong et al. 2014, 9-5-5), the baseline row of the seed's comparison table, trained from scratch.

Command (T91, the SRCNN paper's own training set; Set5 for validation):
  python -m esrgan_jax.train --config srcnn --config.data.train=../shared/data/train/T91 \\
      --config.data.val=../shared/data/benchmarks/Set5

SRCNN refines a bicubic-upsampled image, so the LR patches are upsampled with MATLAB bicubic before the network
(as the paper's training pairs). RGB (the paper trained on Y only), MSE loss, Adam 1e-3 (the paper: SGD 1e-4),
batch 32, LR patch 12 (HR 48; the paper: 33x33 sub-images). Paper: 30.48 dB PSNR-Y on Set5 (Y, crop 4).

Measured (T91 -> Set5, PSNR-Y, crop 4; CPU = process CPU time on a shared 2-core machine; wall time was 2-3x
longer because other jobs ran at the same time):

  step    1000   2000   3000   4000   5000
  dB     27.14  29.48  29.71  29.85  29.55   (bicubic 28.42)
  CPU min  5.3   10.6   16.0   21.6   27.1

It did NOT reach 30.0 dB within 27 CPU minutes (best 29.85 at step 4000); with a constant lr 1e-3 the score
oscillates after ~3000 steps, so a longer run with lr decay (e.g. --config.optim.milestones='(4000, 8000)') is
the next thing to try.
"""

from configs import base


def get_config():
    config = base.get_config()
    config.model = dict(kind="srcnn", scale=4, num_channels=3, filters=(64, 32), kernels=(9, 5, 5))
    config.init.generator = "none"
    config.train_rules = base.ALL_TRAINABLE
    config.data.train, config.data.train_split = "../shared/data/train/T91", ""
    config.data.val, config.data.val_split = "../shared/data/benchmarks/Set5", ""
    config.data.lr_patch = 12
    config.data.batch_size = 32
    config.loss.pixel = "mse"
    config.optim.lr = 1e-3
    config.optim.b2 = 0.999
    config.train.steps = 20_000
    config.train.log_every = 100
    config.train.eval_every = 1000
    config.train.save_every = 1000
    return config
