"""The first fine-tuning recipe: fine-tune only the RRDB trunk of converted ESRGAN x4 with an MSE loss.

Command (convert the generator once, then train, evaluate and upscale):
  python -m weights_conversion RRDB_ESRGAN_x4.pth weights/esrgan_x4
  python -m esrgan_jax.train --config mse --config.data.train=PATH/TO/HR_FOLDER
  python -m esrgan_jax.evaluate --method mse=runs/mse ...

Reproduces: Adam lr 1e-4, betas (0.9, 0.999), batch 1, 5 epochs, trunk (`body_*`) only, everything else frozen.
Expected: starting from the GAN-trained generator, MSE fine-tuning raises PSNR-Y towards the PSNR-oriented model
(smoother output). Runtime: 23-block RRDBNet, batch 1, 32x32 LR patches: about 1 s per step on 2 CPU cores,
milliseconds on a GPU; an epoch is one pass over the training images (one random patch each).
Measured (experiments.finetune_study, 2026-12-01, idle 2-core AMD EPYC Zen 4): Real-ESRGAN x4plus, 80 B100 pairs,
400 steps with 5 validations on 10 192x192 crops in 8.2 min, peak RSS 2520 MiB; PSNR-Y 30.35 / 27.31 / 25.36 dB
on Set5 / Set14 / 20 B100 images (x4plus as converted: 26.63 / 25.34 / 23.85; README, fine-tuning story).
"""

from configs import base


def get_config():
    config = base.get_config()
    config.loss.pixel = "mse"
    config.optim.b2 = 0.999
    config.data.batch_size = 1
    config.train.epochs = 5
    return config
