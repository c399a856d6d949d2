"""The paper-scale ESRGAN x4 GAN stage (BasicSR train_ESRGAN_x4.yml): every generator parameter trains, from the
PSNR-oriented RRDBNet, against a VGG-style discriminator; for GPU users with DIV2K.

Command:
  python -m weights_conversion RRDB_PSNR_x4.pth weights/rrdb_psnr_x4   # or train it: --config psnr_x4
  python -m weights_conversion vgg19-dcbb9e9d.pth weights/vgg19
  python -m esrgan_jax.train --config esrgan_x4 --config.data.train=DIV2K --config.init.generator=weights/rrdb_psnr_x4

Reproduces: batch 16, LR patch 32 (HR 128), Adam 1e-4 betas (0.9, 0.99) for G and D, lr halved at 50k/100k/
200k/300k, 400k iterations, EMA 0.999; loss VGG19 conv5_4 L1 1.0 + RaGAN 5e-3 + L1 1e-2 (the paper's ESRGAN).
Expected: Set5 PSNR-Y about 30.4 dB, LPIPS about 0.07; days on one V100-class GPU (not feasible on CPU).
"""

from esrgan_jax.training.defaults import ALL_TRAINABLE, base_config


def get_config():
    config = base_config()
    config.init.generator = "weights/rrdb_psnr_x4"
    config.init.generator_pth = "RRDB_PSNR_x4.pth"
    config.model.num_block = 23
    config.data.batch_size = 16
    config.data.lr_patch = 32
    config.loss.pixel = "l1"
    config.loss.pixel_weight = 1e-2
    config.loss.perceptual_weight = 1.0
    config.loss.gan_weight = 5e-3
    config.optim.lr = 1e-4
    config.optim.d_lr = 1e-4
    config.optim.b2 = 0.99
    config.optim.milestones = (50_000, 100_000, 200_000, 300_000)
    config.optim.ema_decay = 0.999
    config.train_rules = ALL_TRAINABLE
    config.train.steps = 400_000
    config.train.eval_every = 5_000
    config.train.save_every = 5_000
    config.train.log_every = 100
    return config
