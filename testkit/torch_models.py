"""PyTorch reference modules, written from the ESRGAN / SRCNN / VGG descriptions, used as numerical oracles.

State-dict keys follow BasicSR (`conv_first`, `body.0.rdb1.conv1`, ...), torchvision (`features.N`) and
BasicSR's `VGGStyleDiscriminator`; tests re-key them into the other layouts found in the wild. Imported only
by tests and benchmarks (torch is a test dependency, never a runtime one).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class ResidualDenseBlock(nn.Module):
    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(nf, gc, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf + gc, gc, 3, 1, 1)
        self.conv3 = nn.Conv2d(nf + 2 * gc, gc, 3, 1, 1)
        self.conv4 = nn.Conv2d(nf + 3 * gc, gc, 3, 1, 1)
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)

    def forward(self, x):
        x1 = _lrelu(self.conv1(x))
        x2 = _lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = _lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = _lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, nf: int, gc: int):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(nf, gc)
        self.rdb2 = ResidualDenseBlock(nf, gc)
        self.rdb3 = ResidualDenseBlock(nf, gc)

    def forward(self, x):
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNetTorch(nn.Module):
    """BasicSR-keyed RRDBNet; scale 2/1 pixel-unshuffle the input first (Real-ESRGAN x2plus)."""

    def __init__(self, num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32):
        super().__init__()
        self.scale = scale
        in_ch = num_in_ch * {4: 1, 2: 4, 1: 16}[scale]
        self.conv_first = nn.Conv2d(in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x):
        if self.scale < 4:
            x = F.pixel_unshuffle(x, 4 // self.scale)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = _lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = _lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(_lrelu(self.conv_hr(feat)))


class VGGStyleDiscriminatorTorch(nn.Module):
    """BasicSR-keyed VGG-style discriminator for 128x128 or 256x256 inputs."""

    def __init__(self, num_in_ch=3, num_feat=64, input_size=128):
        super().__init__()
        nf = num_feat
        self.input_size = input_size
        self.conv0_0 = nn.Conv2d(num_in_ch, nf, 3, 1, 1, bias=True)
        self.conv0_1 = nn.Conv2d(nf, nf, 4, 2, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(nf, affine=True)
        widths = [nf, nf * 2, nf * 4, nf * 8, nf * 8] + ([nf * 8] if input_size == 256 else [])
        self.n_stages = len(widths) - 1
        for s in range(1, len(widths)):
            setattr(self, f"conv{s}_0", nn.Conv2d(widths[s - 1], widths[s], 3, 1, 1, bias=False))
            setattr(self, f"bn{s}_0", nn.BatchNorm2d(widths[s], affine=True))
            setattr(self, f"conv{s}_1", nn.Conv2d(widths[s], widths[s], 4, 2, 1, bias=False))
            setattr(self, f"bn{s}_1", nn.BatchNorm2d(widths[s], affine=True))
        self.linear1 = nn.Linear(nf * 8 * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)

    def forward(self, x):
        feat = _lrelu(self.conv0_0(x))
        feat = _lrelu(self.bn0_1(self.conv0_1(feat)))
        for s in range(1, self.n_stages + 1):
            feat = _lrelu(getattr(self, f"bn{s}_0")(getattr(self, f"conv{s}_0")(feat)))
            feat = _lrelu(getattr(self, f"bn{s}_1")(getattr(self, f"conv{s}_1")(feat)))
        feat = feat.view(feat.size(0), -1)
        return self.linear2(_lrelu(self.linear1(feat)))


_VGG_CFG = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGGTorch(nn.Module):
    """torchvision-style `features` Sequential (keys `features.N.weight`), no classifier."""

    def __init__(self, arch: str = "vgg19"):
        super().__init__()
        layers, in_ch = [], 3
        for v in _VGG_CFG[arch]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, v, 3, padding=1), nn.ReLU(inplace=False)]
                in_ch = v
        self.features = nn.Sequential(*layers)

    def forward_to(self, x, last_index: int, use_input_norm: bool = True):
        """Output of `features[: last_index + 1]`, e.g. 34 for VGG19 conv5_4 before its ReLU."""
        if use_input_norm:
            mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
            std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
            x = (x - mean) / std
        for layer in self.features[: last_index + 1]:
            x = layer(x)
        return x


class SRCNNTorch(nn.Module):
    """9-5-5 SRCNN with 'same' padding on a bicubic-upsampled input."""

    def __init__(self, num_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(num_channels, 64, 9, padding=4)
        self.conv2 = nn.Conv2d(64, 32, 5, padding=2)
        self.conv3 = nn.Conv2d(32, num_channels, 5, padding=2)

    def forward(self, x):
        return self.conv3(F.relu(self.conv2(F.relu(self.conv1(x)))))


def randomize_(module: nn.Module, seed: int = 0, std: float = 0.05) -> nn.Module:
    """Fills every parameter and BN buffer with seeded random values, so no layer is left at an identity init."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * std)
    return module


def he_init_(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random BN statistics and biases (randomize_), then He-normal conv/linear weights and BN scales near 1.

    With one small fixed std, activations shrink (or grow) several times per layer: after 16 VGG convs or 10
    discriminator layers the outputs would be too small, or independent of the input, for a 1e-5 tolerance
    to mean anything.
    """
    randomize_(model, seed)
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * math.sqrt(2.0 / math.prod(p.shape[1:])))
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(1.0 + 0.1 * torch.randn(m.weight.shape, generator=g))
    return model


class _ShortcutBlock(nn.Module):
    def __init__(self, sub: nn.Module):
        super().__init__()
        self.sub = sub

    def forward(self, x):
        return x + self.sub(x)


class _OldRDB(nn.Module):
    """Old-arch dense block: each conv sits in `Sequential(conv[, act])`, hence the `.0` in its keys."""

    def __init__(self, nf: int, gc: int):
        super().__init__()
        for k in range(1, 6):
            conv = nn.Conv2d(nf + (k - 1) * gc, gc if k < 5 else nf, 3, 1, 1)
            setattr(self, f"conv{k}", nn.Sequential(conv, nn.LeakyReLU(0.2)) if k < 5 else nn.Sequential(conv))

    def forward(self, x):
        feats = [x]
        for k in range(1, 6):
            feats.append(getattr(self, f"conv{k}")(torch.cat(feats, 1)))
        return feats[-1] * 0.2 + x


class _OldRRDB(nn.Module):
    def __init__(self, nf: int, gc: int):
        super().__init__()
        self.RDB1, self.RDB2, self.RDB3 = _OldRDB(nf, gc), _OldRDB(nf, gc), _OldRDB(nf, gc)

    def forward(self, x):
        return self.RDB3(self.RDB2(self.RDB1(x))) * 0.2 + x


class OldESRGANTorch(nn.Module):
    """The original flattened ESRGAN x4 (`model.0`, `model.1.sub.N.RDBk.convj.0`, `model.3,6,8,10`)."""

    def __init__(self, in_nc=3, out_nc=3, nf=64, nb=23, gc=32):
        super().__init__()
        trunk = [_OldRRDB(nf, gc) for _ in range(nb)] + [nn.Conv2d(nf, nf, 3, 1, 1)]
        self.model = nn.Sequential(
            nn.Conv2d(in_nc, nf, 3, 1, 1),
            _ShortcutBlock(nn.Sequential(*trunk)),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(nf, nf, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(nf, nf, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(nf, nf, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(nf, out_nc, 3, 1, 1),
        )

    def forward(self, x):
        return self.model(x)


def to_xinntao(sd: dict) -> dict:
    """BasicSR keys -> xinntao/ESRGAN new-arch keys (the inverse of BasicSR's convert_esrgan_model)."""
    out = {}
    for k, v in sd.items():
        k = k.replace("body.", "RRDB_trunk.", 1) if k.startswith("body.") else k
        k = k.replace(".rdb", ".RDB").replace("conv_body", "trunk_conv").replace("conv_up", "upconv")
        out[k.replace("conv_hr", "HRconv")] = v
    return out


def compact_init_(model: nn.Module, seed: int) -> nn.Module:
    """Random weights for an SRVGGNetCompact (spandrel's class, the tests' oracle): He-normal convs, so activations
    stay O(1) through 34 layers, small biases, PReLU slopes in [0, 0.3) (none at torch's 0.25 default)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.named_parameters():
            if t.ndim == 4:
                t.copy_(torch.randn(t.shape, generator=g) * math.sqrt(2.0 / math.prod(t.shape[1:])))
            elif name.endswith("bias"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.01)
            else:
                t.copy_(torch.rand(t.shape, generator=g) * 0.3)
    return model.eval()


def swinir_init_(model: nn.Module, seed: int) -> nn.Module:
    """Random weights for a SwinIR (spandrel's class): convs and linears scaled by 1/sqrt(fan_in), so activations
    stay O(1); bias tables N(0, 1), so the relative position bias moves the attention; LayerNorm weights around 1
    and every bias drawn (none left at the official init's 1 and 0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.named_parameters():
            if name.endswith("relative_position_bias_table"):
                t.copy_(torch.randn(t.shape, generator=g))
            elif t.ndim >= 2:
                t.copy_(torch.randn(t.shape, generator=g) / math.sqrt(math.prod(t.shape[1:])))
            elif name.endswith("bias"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.05)
            else:
                t.copy_(1 + torch.randn(t.shape, generator=g) * 0.2)
    return model.eval()


def nhwc_forward(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """[N, H, W, C] float32 numpy through a PyTorch NCHW model, back as [N, H', W', C'] numpy."""
    with torch.no_grad():
        return model(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()).permute(0, 2, 3, 1).numpy()
