"""Fine-tunes the RRDB trunk of a converted ESRGAN x4 generator with an MSE loss (the first fine-tuning recipe).

Command (convert the generator once, then train, evaluate and upscale):
  python -m weights_conversion RRDB_ESRGAN_x4.pth weights/esrgan_x4
  python -m esrgan_jax.train --config mse --config.data.train=PATH/TO/HR_FOLDER
  python -m esrgan_jax.evaluate --method mse=runs/mse ...

Trains the trunk (`body_*`) only, everything else frozen: Adam 1e-4, betas (0.9, 0.999), batch 1, 5 epochs (an
epoch is one random patch of each training image). MSE fine-tuning moves a GAN-trained generator towards the
PSNR-oriented one (higher PSNR-Y, smoother output).
Reproduces: the mse-trunk row of the fine-tuning study (`python -m experiments.finetune_study`, from x4plus).
Expected: PSNR-Y 30.35 / 27.31 / 25.36 dB on Set5 / Set14 / B100-20, 8.2 min on an idle 2-core AMD EPYC Zen 4.

Variant:
  --config.train_rules='((".*", "train"),)': every generator parameter trains (the study's mse-full row).
"""

from esrgan_jax.training.defaults import base_config


def get_config():
    config = base_config()
    config.loss.pixel = "mse"
    config.optim.b2 = 0.999
    config.data.batch_size = 1
    config.train.epochs = 5
    return config
