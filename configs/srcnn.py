"""SRCNN x4 (Dong et al. 2014, 9-5-5), the baseline row of the comparison table, trained from scratch.

Command (T91, the SRCNN paper's own training set; Set5 for validation):
  python -m esrgan_jax.train --config srcnn --config.data.train=../shared/data/train/T91 \\
      --config.data.val=../shared/data/benchmarks/Set5

SRCNN refines a bicubic-upsampled image, so the LR patches are upsampled with MATLAB bicubic before the network
(as the paper's training pairs). Like the paper, the network sees only luminance: one channel, trained on the Y
of the RGB patches; for colour output Cb/Cr are upscaled by bicubic (esrgan_jax.image.color). MSE loss, Adam 1e-3
and 1e-4 from step 4000 (the paper: SGD 1e-4), batch 32, LR patch 12 (HR 48; the paper: 33x33 sub-images),
8000 steps. Paper: 30.48 dB PSNR-Y on Set5 (Y, crop 4), trained on ImageNet.

Measured 2026-11-26, when scratch init used a fixed key rather than `train.seed` (T91 -> Set5, PSNR-Y,
crop 4, bicubic 28.43; CPU min = process CPU minutes on the 2-core
machine, one JAX device per core; validated every 500 steps; steps 5000-8000 ran as a resume, which is exact):

  step     1000   2000   3000   4000   5000   5500   6000   6500   7000   7500   8000
  dB      29.54  29.74  29.87  29.93  29.98  30.00  29.99  30.00  30.02  30.04  30.03
  CPU min   4.7    9.1   13.5   17.9   22.1   24.5   26.7   29.0   31.2   33.4   35.5

**>= 30.0 dB PSNR-Y on Set5 after 24.5 CPU minutes (step 5500, 30.0005 dB; 13.2 min wall), and at every
validation from step 6500 (29.0 CPU min) on; 30.03 dB at the end** (35.5 CPU min, 19 min wall, SSIM-Y 0.850).

The RGB variant (`--config.model.num_channels=3`, the same schedule, one device) levelled off below 30:
29.85 dB at step 4000 and 29.90 at 5000 (20.7 and 25.7 CPU min); with patch 24 / batch 16 it reached 29.68 at
4000 steps (32.8 CPU min). Switching to the paper's Y-only network is what crossed 30 dB here.
"""

from configs import base


def get_config():
    config = base.get_config()
    config.model = dict(kind="srcnn", scale=4, num_channels=1, filters=(64, 32), kernels=(9, 5, 5))
    config.init.generator = "none"
    config.train_rules = base.ALL_TRAINABLE
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
