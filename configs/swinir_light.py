"""SwinIR-lightweight x4 trained from scratch on T91 + the study's 80 B100 images (the built-in compact's data).

Command (builds the data from ../shared/data, trains, and evaluates it beside every other method of the study):
  python -m experiments.finetune_study --out runs/study --only swinir-light

The training step alone, on data that command builds:
  python -m esrgan_jax.train --config swinir_light --config.data.train=runs/study/data/train_builtin \\
      --config.data.val=runs/study/data/val

SwinIR with the official lightweight shape (embed 60, 4 RSTBs of 6 blocks, 6 heads, window 8, MLP ratio 2,
pixelshuffledirect; 0.93 M parameters), random init, every parameter trainable: L1 loss and Adam 2e-4 (0.9, 0.99)
halved at 50/80/90/95% of the steps (the official recipe's schedule, 500k steps there), batch 16 of 32x32 LR
patches (the official 64x64 costs 4x per step on a CPU), 1200 steps; the best validated step (PSNR-Y) is exported.
Training images, HR only, LR made with MATLAB bicubic on the fly. Validation: the study's 10 T91 crops.
To fine-tune official weights instead (python -m weights_conversion 002_lightweightSR_DIV2K_s64w8_SwinIR-S_x4.pth
weights/swinir_light): --config.init.generator=weights/swinir_light, and
--config.train_rules='(("layers_\\d+/.*", "train"), (".*", "freeze"))' trains the RSTBs only.
Reproduces: the study's swinir-light row (experiments/finetune_study/README.md).
Expected: Set5 / Set14 / B100-test PSNR-Y 29.18 / 26.46 / 24.95 (bicubic 28.43 / 25.99 / 24.62); 60.2 min on a
shared 2-core Zen 4, about 52 min idle: with the rest of the study it would pass the 90-minute budget.
"""

from esrgan_jax.training.defaults import ALL_TRAINABLE, base_config

STEPS = 1200


def get_config():
    config = base_config()
    config.model = dict(kind="swinir", scale=4, in_chans=3, embed_dim=60, depths=(6, 6, 6, 6),
                        num_heads=(6, 6, 6, 6), window_size=8, mlp_ratio=2.0, upsampler="pixelshuffledirect",
                        resi_connection="1conv", img_range=1.0, num_feat=64, img_size=64)  # fmt: skip
    config.init.generator = "none"
    config.init.generator_pth = "002_lightweightSR_DIV2K_s64w8_SwinIR-S_x4.pth"
    config.train_rules = ALL_TRAINABLE
    config.data.train_split = ""
    config.data.val_split = ""
    config.data.lr_patch = 32
    config.data.batch_size = 16
    config.loss.pixel = "l1"
    config.optim.lr = 2e-4
    config.optim.b2 = 0.99
    config.optim.milestones = tuple(STEPS * p // 100 for p in (50, 80, 90, 95))
    config.train.steps = STEPS
    config.train.log_every = 50
    config.train.eval_every = 200
    config.train.save_every = 200
    return config
