"""SRCNN x4 (Dong et al. 2014, 9-5-5) trained from scratch on luminance: the baseline row of the comparison table.

Command (T91, the SRCNN paper's own training set; Set5 for validation):
  python -m esrgan_jax.train --config srcnn --config.data.train=../shared/data/train/T91 \\
      --config.data.val=../shared/data/benchmarks/Set5

SRCNN refines a bicubic-upsampled image: the LR patches are upsampled with MATLAB bicubic before the network, as
the paper's training pairs. Like the paper, the network sees one channel, the Y of the RGB patches; for colour
output Cb/Cr are upscaled by bicubic (esrgan_jax.image.color). MSE loss, Adam 1e-3 and 1e-4 from step 4000 (the
paper: SGD 1e-4), batch 32, LR patch 12 (HR 48; the paper: 33x33 sub-images), 8000 steps.
Reproduces: the paper's Set5 x4 row (30.48 dB PSNR-Y, Y channel, crop 4; trained on ImageNet).
Expected: 30.03 dB PSNR-Y on Set5 (bicubic 28.43; 30.0 from step 5500 on), 19 min on a 2-core CPU.

Variant:
  --config.model.num_channels=3: an RGB network; it levels off below 30 dB (29.90 at step 5000).
"""

from esrgan_jax.training.defaults import ALL_TRAINABLE, base_config


def get_config():
    config = base_config()
    config.model = dict(kind="srcnn", scale=4, num_channels=1, filters=(64, 32), kernels=(9, 5, 5))
    config.init.generator = "none"
    config.train_rules = ALL_TRAINABLE
    # The recipe's data are T91 and Set5 (the command above); the defaults run anywhere, offline.
    config.data.train, config.data.train_split = "samples", "train"
    config.data.val, config.data.val_split = "samples", "val"
    config.data.lr_patch = 12
    config.data.batch_size = 32
    config.loss.pixel = "mse"
    config.optim.lr = 1e-3
    config.optim.b2 = 0.999
    config.optim.milestones, config.optim.gamma = (4000,), 0.1
    config.train.steps = 8000
    config.train.log_every = 100
    config.train.eval_every = 1000
    config.train.save_every = 1000
    return config
