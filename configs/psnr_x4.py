"""RRDBNet PSNR pretraining (ESRGAN stage 1): L1 loss from scratch, the generator the GAN stage starts from.

Command:
  python -m esrgan_jax.train --config psnr_x4 --config.data.train=DIV2K

Reproduces: the paper's stage 1: L1, Adam lr 2e-4 betas (0.9, 0.99), halved every 200k updates, batch 16,
LR patch 32, EMA 0.999, 1M iterations, everything trainable, random init (BasicSR's x0.1 scaled kaiming in the
dense blocks).
Expected: Set5 PSNR-Y about 32.6-32.7 dB (the paper's RRDB: 32.73 with DF2K); about a week on one GPU.
"""

from esrgan_jax.training.defaults import ALL_TRAINABLE, base_config


def get_config():
    config = base_config()
    config.init.generator = "none"
    config.data.batch_size = 16
    config.data.lr_patch = 32
    config.loss.pixel = "l1"
    config.optim.lr = 2e-4
    config.optim.b2 = 0.99
    config.optim.milestones = (200_000, 400_000, 600_000, 800_000)
    config.optim.ema_decay = 0.999
    config.train_rules = ALL_TRAINABLE
    config.train.steps = 1_000_000
    config.train.eval_every = 5_000
    config.train.save_every = 5_000
    config.train.log_every = 100
    return config
